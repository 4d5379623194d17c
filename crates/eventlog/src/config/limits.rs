//! `[limits]`: caps on an event's message and data.

use serde::{Deserialize, Serialize};

/// `[limits]`: the largest message and structured data an event may have. Events past them
/// are refused (the API answers `400` naming the cap), so one client cannot fill the database
/// or the admin's pages with a few huge events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest message, in bytes of UTF-8. Default 64 KiB (65,536).
    pub message_bytes: usize,
    /// Longest `data`, in bytes as compact JSON. Default 256 KiB (262,144).
    pub data_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            message_bytes: 64 * 1024,
            data_bytes: 256 * 1024,
        }
    }
}

impl LimitsConfig {
    /// Checks an event's message and data against the caps.
    pub fn check(&self, event: &crate::event::NewEvent) -> Result<(), crate::ValidationError> {
        let bytes = event.message.len();
        if bytes > self.message_bytes {
            return Err(crate::ValidationError::MessageBytes {
                bytes,
                limit: self.message_bytes,
            });
        }
        if let Some(data) = &event.data {
            let bytes = json_len(data);
            if bytes > self.data_bytes {
                return Err(crate::ValidationError::DataBytes {
                    bytes,
                    limit: self.data_bytes,
                });
            }
        }
        Ok(())
    }
}

/// The length of a value written as compact JSON, counted without building the text.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
