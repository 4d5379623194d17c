//! Filter options shared by `tail` and `export`, turned into an `EventFilter` by the same
//! parser as the API's query string (`eventlog_web::filter_params`).

use eventlog::store::EventFilter;

/// Which events: every option narrows the selection.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Only this event type (repeat for several).
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
    /// At or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub until: Option<String>,
    /// A value inside data: PATH=VALUE, e.g. customer.email=a@b.c (repeatable).
    #[arg(long = "data", value_name = "PATH=VALUE")]
    pub data: Vec<String>,
}

impl FilterArgs {
    /// The filter these options describe.
    pub fn to_filter(&self) -> anyhow::Result<EventFilter> {
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
        let q = eventlog_web::filter_params::parse_pairs(pairs).map_err(|e| {
            anyhow::anyhow!("{}", e.to_string().replace("query parameter", "option"))
        })?;
        Ok(q.filter)
    }
}
