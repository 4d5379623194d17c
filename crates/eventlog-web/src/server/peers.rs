//! A cap on the connections of one peer address, so that one address opening (and, when cut,
//! reopening) slow connections cannot take every connection the server has.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per peer address.
pub(crate) struct PeerConnections {
    cap: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// One connection of a peer; gives its place back when dropped.
pub(crate) struct PeerSlot {
    peers: Arc<PeerConnections>,
    ip: IpAddr,
}

impl PeerConnections {
    /// At most `cap` connections per address; `None`: no cap.
    pub(crate) fn new(cap: Option<usize>) -> Option<Arc<Self>> {
        cap.map(|cap| {
            Arc::new(PeerConnections {
                cap: cap.max(1),
                open: Mutex::new(HashMap::new()),
            })
        })
    }

    /// A place for one more connection of `ip`, or `None` when it holds its cap already.
    pub(crate) fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        // An IPv4 client reaching a dual-stack socket is the same peer as over IPv4.
        let ip = ip.to_canonical();
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            peers: self.clone(),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                // Forgotten when idle: the map holds only peers with open connections.
                open.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_cap_and_others_theirs() {
        let peers = PeerConnections::new(Some(2)).unwrap();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        let first = peers.admit(a).unwrap();
        let _second = peers.admit(a).unwrap();
        assert!(peers.admit(a).is_none());
        assert!(peers.admit(b).is_some());
        drop(first);
        assert!(peers.admit(a).is_some());
        assert!(peers.open.lock().unwrap().len() == 1, "b was forgotten");
    }
}
