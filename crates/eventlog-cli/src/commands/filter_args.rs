//! Filter options shared by `tail` and `export`, turned into an `EventFilter` by the filter
//! language of `eventlog::filter`, the same as the admin's and the API's query strings.

use eventlog::EventTypes;
use eventlog::filter::{FilterError, ListQuery, TypeCheckError};
use eventlog::store::{EventFilter, ReadStore};

/// Which events: every option narrows the selection.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only this event type (repeat for several, or separate with commas).
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only this group.
    #[arg(long)]
    pub group: Option<String>,
    /// Only events whose group, message or initiator contains TEXT (case-insensitive).
    #[arg(short = 'q', long = "query", value_name = "TEXT")]
    pub text: Option<String>,
    /// Only this initiator.
    #[arg(long)]
    pub initiator: Option<String>,
    /// At or after this time, UTC: YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time, same forms; a date alone includes that whole day.
    #[arg(long)]
    pub until: Option<String>,
    /// A value inside data: PATH=VALUE, e.g. customer.email=a@b.c (repeatable).
    #[arg(long = "data", value_name = "PATH=VALUE")]
    pub data: Vec<String>,
}

/// The option that sets a key of the filter language, for error messages.
fn option_of(key: &str) -> String {
    match key {
        "q" => "--query".to_owned(),
        k => match k.strip_prefix("data.") {
            Some(path) => format!("--data {path}=…"),
            None => format!("--{k}"),
        },
    }
}

impl FilterArgs {
    /// The filter these options describe, parsed by the same rules as the admin's and the
    /// API's query strings; a type must be configured or found in stored events.
    pub async fn to_filter(
        &self,
        types: &EventTypes,
        store: &dyn ReadStore,
    ) -> anyhow::Result<EventFilter> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        pairs.extend(self.types.iter().map(|t| ("type".to_owned(), t.clone())));
        for (k, v) in [
            ("group", &self.group),
            ("q", &self.text),
            ("initiator", &self.initiator),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = v {
                pairs.push((k.to_owned(), v.clone()));
            }
        }
        for d in &self.data {
            let (path, value) = d
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--data {d:?}: expected PATH=VALUE"))?;
            pairs.push((format!("data.{path}"), value.to_owned()));
        }
        let option_error =
            |e: FilterError| anyhow::anyhow!("{} {:?}: {}", option_of(&e.key), e.value, e.rule);
        let (query, _) = ListQuery::from_pairs(pairs).map_err(option_error)?;
        query.check_types(types, store).await.map_err(|e| match e {
            TypeCheckError::Filter(e) => option_error(e),
            TypeCheckError::Store(e) => e.into(),
        })?;
        Ok(query.filter())
    }
}
