//! `[server.proxy_auth]`: logins done by an authenticating reverse proxy (oauth2-proxy,
//! Authelia, a company SSO gateway) that names the user in a request header.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use eventlog::error::ConfigError;
use eventlog::store::Role;

/// `[server.proxy_auth]`: trust a user-name header, and optionally a groups header, but only
/// on connections whose peer address is one of `trusted_proxies`. A request that carries
/// either header from any other address is refused (`403`), so a client that bypasses the
/// proxy cannot name itself.
///
/// Users named by the proxy are not stored and need no password: the proxy vouches for them
/// on every request, and their role is decided on every request from `admin_users`,
/// `admin_groups` and `default_role`, so a change at the identity provider applies at once.
///
/// ```toml
/// [server.proxy_auth]
/// trusted_proxies = ["127.0.0.1/32", "::1/128"]
/// user_header = "X-Forwarded-User"
/// groups_header = "X-Forwarded-Groups"
/// admin_groups = ["ops"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProxyAuthConfig {
    /// Peer addresses (`10.0.0.5`) or networks (`10.0.0.0/24`, `::1/128`) of the proxies
    /// whose headers are believed: the TCP peer of the connection, never a forwarded-for
    /// header. Required, at least one.
    #[serde(
        serialize_with = "serialize_nets",
        deserialize_with = "deserialize_nets"
    )]
    pub trusted_proxies: Vec<IpNet>,
    /// The header naming the user (oauth2-proxy: `X-Forwarded-User` or
    /// `X-Forwarded-Preferred-Username`; Authelia: `Remote-User`). Default
    /// `X-Forwarded-User`.
    pub user_header: String,
    /// A header listing the user's groups, separated by commas (oauth2-proxy:
    /// `X-Forwarded-Groups`; Authelia: `Remote-Groups`). Default: none.
    pub groups_header: Option<String>,
    /// Members of any of these groups are admins (may delete events).
    pub admin_groups: BTreeSet<String>,
    /// These user names are admins, whatever their groups.
    pub admin_users: BTreeSet<String>,
    /// The role of every other user the proxy names. Default `viewer` (read only).
    pub default_role: Role,
}

impl Default for ProxyAuthConfig {
    fn default() -> Self {
        ProxyAuthConfig {
            trusted_proxies: Vec::new(),
            user_header: "X-Forwarded-User".to_owned(),
            groups_header: None,
            admin_groups: BTreeSet::new(),
            admin_users: BTreeSet::new(),
            default_role: Role::Viewer,
        }
    }
}

impl ProxyAuthConfig {
    /// Whether `peer` (the connection's remote address) is one of the trusted proxies. An
    /// IPv4 peer reached through an IPv6 socket (`::ffff:127.0.0.1`) counts as its IPv4
    /// address.
    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }

    /// The role of a user the proxy names, with the groups it lists.
    pub fn role_of<'a>(&self, user: &str, groups: impl IntoIterator<Item = &'a str>) -> Role {
        if self.admin_users.contains(user)
            || groups.into_iter().any(|g| self.admin_groups.contains(g))
        {
            Role::Admin
        } else {
            self.default_role
        }
    }

    /// Checks the section: at least one trusted proxy, and header names that are header
    /// names.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.trusted_proxies.is_empty() {
            return Err(ConfigError::value(
                "server.proxy_auth.trusted_proxies",
                "server.proxy_auth.trusted_proxies must list the address of at least one proxy \
                 (e.g. [\"127.0.0.1/32\", \"::1/128\"] for a proxy on this host)",
            ));
        }
        for (key, name) in [
            ("server.proxy_auth.user_header", Some(&self.user_header)),
            (
                "server.proxy_auth.groups_header",
                self.groups_header.as_ref(),
            ),
        ] {
            if let Some(name) = name
                && !is_header_name(name)
            {
                return Err(ConfigError::value(
                    key,
                    format!("{key} = {name:?} is not an HTTP header name"),
                ));
            }
        }
        if self
            .groups_header
            .as_ref()
            .is_some_and(|g| g.eq_ignore_ascii_case(&self.user_header))
        {
            return Err(ConfigError::value(
                "server.proxy_auth.groups_header",
                "server.proxy_auth.groups_header must differ from user_header",
            ));
        }
        if !self.admin_groups.is_empty() && self.groups_header.is_none() {
            return Err(ConfigError::value(
                "server.proxy_auth.admin_groups",
                "server.proxy_auth.admin_groups needs groups_header (the header the proxy \
                 lists the user's groups in)",
            ));
        }
        Ok(())
    }
}

/// An RFC 9110 token: what a header field name is made of.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn serialize_nets<S: Serializer>(nets: &[IpNet], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(nets.iter().map(ToString::to_string))
}

/// Networks written as `10.0.0.0/24`, or single addresses (`10.0.0.5`, `::1`).
fn deserialize_nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|text| {
            let text = text.trim();
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{text:?} is not an IP address or network; write it like \
                         127.0.0.1, 10.0.0.0/8 or ::1/128"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::WebConfig as Config;

    fn proxy(toml: &str) -> Result<ProxyAuthConfig, String> {
        Config::from_toml(toml)
            .map(|c| c.server.proxy_auth.expect("section present"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn addresses_and_networks_are_trusted_by_peer_address() {
        let p = proxy(
            "[server.proxy_auth]\ntrusted_proxies = [\"127.0.0.1/32\", \"::1\", \"10.1.0.0/16\"]\n",
        )
        .unwrap();
        assert_eq!(p.user_header, "X-Forwarded-User");
        for ok in ["127.0.0.1", "::1", "10.1.200.3", "::ffff:127.0.0.1"] {
            assert!(p.is_trusted(ok.parse().unwrap()), "{ok}");
        }
        for bad in ["127.0.0.2", "10.2.0.1", "::2", "192.168.0.1"] {
            assert!(!p.is_trusted(bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn roles_come_from_admin_users_groups_and_the_default() {
        let p = proxy(
            "[server.proxy_auth]\ntrusted_proxies = [\"127.0.0.1\"]\ngroups_header = \"X-Forwarded-Groups\"\nadmin_groups = [\"ops\"]\nadmin_users = [\"root\"]\n",
        )
        .unwrap();
        assert_eq!(p.role_of("ann", ["dev", "ops"]), Role::Admin);
        assert_eq!(p.role_of("root", []), Role::Admin);
        assert_eq!(p.role_of("bob", ["dev", "opsx"]), Role::Viewer);
    }

    #[test]
    fn bad_sections_name_the_key() {
        let err = proxy("[server.proxy_auth]\n").unwrap_err();
        assert!(err.contains("trusted_proxies"), "{err}");
        let err = proxy("[server.proxy_auth]\ntrusted_proxies = [\"localhost\"]\n").unwrap_err();
        assert!(err.contains("\"localhost\" is not an IP address"), "{err}");
        let err =
            proxy("[server.proxy_auth]\ntrusted_proxies = [\"::1\"]\nuser_header = \"X User\"\n")
                .unwrap_err();
        assert!(err.contains("server.proxy_auth.user_header"), "{err}");
        let err =
            proxy("[server.proxy_auth]\ntrusted_proxies = [\"::1\"]\nadmin_groups = [\"a\"]\n")
                .unwrap_err();
        assert!(err.contains("needs groups_header"), "{err}");
        let err =
            proxy("[server.proxy_auth]\ntrusted_proxies = [\"::1\"]\ndefault_role = \"root\"\n")
                .unwrap_err();
        assert!(err.contains("root"), "{err}");
    }
}
