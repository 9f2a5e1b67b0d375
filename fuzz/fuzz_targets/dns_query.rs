//! The embedded resolver's parser on bytes from a container: never panics, and any query
//! it accepts can be answered within the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    use berth_network::dns;
    if let Ok(q) = dns::parse_query(data) {
        assert!(q.name.len() <= 4 * 255);
        let _ = dns::a_reply(&q, &[std::net::Ipv4Addr::LOCALHOST]);
        let _ = dns::ptr_reply(&q, &q.name);
        let _ = dns::ptr_address(&q.name);
        assert!(dns::reply_matches(&dns::empty_reply(&q, 0), q.id, &q.question));
    }
});
