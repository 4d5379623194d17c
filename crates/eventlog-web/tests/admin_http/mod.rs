//! HTTP-level tests of every admin route, permission and filter, on SQLite and PostgreSQL,
//! one file per concern.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Utc};
use common::*;
use eventlog::GroupId;

mod list;
mod pages;
mod sessions;
