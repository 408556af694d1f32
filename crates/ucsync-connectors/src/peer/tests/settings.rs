//! Every settings rule at its boundaries, each problem named by its key.

use super::*;
use crate::peer::{DEFAULT_SCHEDULE, PeerType};

fn one_problem(text: &str, key: &str) -> String {
    let p = problems(text);
    let path = format!("s.{key}");
    assert_eq!(p.keys().collect::<Vec<_>>(), [&path], "{p:?}");
    p[&path].clone()
}

#[test]
fn defaults_are_a_ucsync_peer_on_443_with_pages_of_1000() {
    let s = valid("");
    assert_eq!(s.peer_type, PeerType::Ucsync);
    assert_eq!(s.base_url(), "https://peer.example.com:443");
    assert_eq!((s.page_size, s.timeout_secs), (1000, 60));
    assert_eq!((s.dialing_prefix.as_str(), s.outgoing_digit), ("", None));
    assert_eq!(s.address, None);
}

#[test]
fn a_ucsync_peer_needs_description_host_token_and_enterprise_id() {
    for (key, named) in [
        ("description", "description"),
        ("host", "host"),
        ("token", "token_env"),
        ("peer_enterprise_id", "peer_enterprise_id"),
    ] {
        let m = one_problem(&minimal(key), named);
        assert!(m.starts_with("required"), "{key}: {m}");
    }
}

#[test]
fn an_external_peer_needs_only_description_and_host() {
    let s = crate::settings::read::<PeerSettings>(
        &"peer_type = \"external\"\ndescription = \"Partner\"\nhost = \"xmpp.partner.example\""
            .parse()
            .unwrap(),
        "s",
    )
    .unwrap();
    assert_eq!(s.peer_type, PeerType::External);
    let p = problems("peer_type = \"external\"\n");
    assert_eq!(
        p.keys().collect::<Vec<_>>(),
        ["s.description", "s.host"],
        "{p:?}"
    );
    // What an external peer cannot use is named, not ignored.
    let p = problems(&format!("peer_type = \"external\"\n{}", minimal("")));
    assert_eq!(
        p.keys().collect::<Vec<_>>(),
        ["s.peer_enterprise_id", "s.token"],
        "{p:?}"
    );
    assert!(p["s.token"].contains("takes no token"), "{p:?}");
    let m = one_problem(
        "peer_type = \"xmpp\"\ndescription = \"P\"\nhost = \"x\"\ntoken = \"t\"\npeer_enterprise_id = \"abcd\"",
        "peer_type",
    );
    assert!(
        m.contains("\"ucsync\"") && m.contains("\"external\""),
        "{m}"
    );
}

#[test]
fn enterprise_ids_of_4_to_32_characters_without_forbidden_characters() {
    let with = |id: &str| {
        format!(
            "{}peer_enterprise_id = {id:?}\n",
            minimal("peer_enterprise_id")
        )
    };
    for id in ["abcd", &"a".repeat(32), "acme-HQ-2"] {
        assert!(problems(&with(id)).is_empty(), "{id}");
    }
    for (id, said) in [
        ("abc", "too short (3 characters)"),
        (&"a".repeat(33), "too long (33 characters)"),
        ("acme hq", "a space"),
        ("acme|hq", "'|'"),
        ("acme,hq", "','"),
        ("acme;hq", "';'"),
        ("acme:hq", "':'"),
        ("acme_hq", "'_', which is not a letter, digit or dash"),
        ("acme.hq", "'.', which is not a letter, digit or dash"),
    ] {
        let m = one_problem(&with(id), "peer_enterprise_id");
        assert!(m.contains(said), "{id:?}: {m}");
        assert!(m.contains("4 to 32 characters"), "{id:?}: {m}");
    }
}

#[test]
fn descriptions_of_up_to_64_letters_digits_dashes_and_spaces() {
    let with = |d: &str| format!("{}description = {d:?}\n", minimal("description"));
    for d in ["Branch B", &"d".repeat(64), "Zweigstelle Köln-2"] {
        assert!(problems(&with(d)).is_empty(), "{d}");
    }
    for (d, said) in [
        (&"d".repeat(65) as &str, "too long (65 characters)"),
        ("Branch_B", "'_' at character 7"),
        ("Branch B.", "'.' at character 9"),
        ("", "required"),
    ] {
        let m = one_problem(&with(d), "description");
        assert!(m.contains(said), "{d:?}: {m}");
        assert!(m.contains("at most 64 characters"), "{d:?}: {m}");
    }
}

#[test]
fn dialing_prefixes_of_up_to_20_characters() {
    let with = |line: &str| format!("{}{line}\n", minimal(""));
    for line in [
        format!("dialing_prefix = {:?}", "8".repeat(20)),
        "dialing_prefix = \"-8 (x)\"".to_owned(),
    ] {
        assert!(problems(&with(&line)).is_empty(), "{line}");
    }
    let m = one_problem(
        &with(&format!("dialing_prefix = {:?}", "8".repeat(21))),
        "dialing_prefix",
    );
    assert!(m.contains("too long (21 characters)"), "{m}");
    assert!(m.contains("at most 20"), "{m}");
}

#[test]
fn host_port_address_page_size_and_secrets_are_checked() {
    let with = |line: &str| format!("{}{line}\n", minimal("host"));
    let m = one_problem(&with("host = \"https://peer.example.com\""), "host");
    assert!(m.contains("is a URL") && m.contains("always https"), "{m}");
    let m = one_problem(&with("host = \"peer.example.com:8443\""), "host");
    assert!(m.contains("holds a port"), "{m}");
    let m = one_problem(&with("host = \"peer.test\"\nport = 0"), "port");
    assert!(m.contains("1 to 65535"), "{m}");
    let m = one_problem(
        &with("host = \"peer.test\"\naddress = \"peer.internal\""),
        "address",
    );
    assert!(m.contains("not an IP address"), "{m}");
    let m = one_problem(&with("host = \"peer.test\"\npage_size = 5001"), "page_size");
    assert!(m.contains("from 1 to 5000"), "{m}");
    let m = one_problem(&with("host = \"peer.test\"\npage_size = 0"), "page_size");
    assert!(m.contains("from 1 to 5000"), "{m}");
    assert!(
        problems(&with(
            "host = \"peer.test\"\npage_size = 5000\naddress = \"127.0.0.1\""
        ))
        .is_empty()
    );
    let m = one_problem(&format!("{}token_env = \"T\"\n", minimal("")), "token");
    assert!(m.contains("not both"), "{m}");
    let m = one_problem(
        &with("host = \"peer.test\"\nprotocol = \"http\""),
        "protocol",
    );
    assert!(m.contains("unknown key"), "{m}");
    let s = valid("address = \"192.0.2.10\"\nport = 8443\nca_file = \"ca.pem\"\n");
    assert_eq!(s.base_url(), "https://peer.example.com:8443");
    assert_eq!(format!("{:?}", s.token), "Some(Secret(***))");
}

#[test]
fn the_default_schedule_is_one_the_schedule_parser_reads() {
    let today = jiff::civil::date(2026, 3, 1);
    let schedule =
        ucsync_model::schedule::Schedule::parse(DEFAULT_SCHEDULE, jiff::tz::TimeZone::UTC, today)
            .unwrap();
    let midnight = jiff::civil::date(2026, 3, 2)
        .at(0, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    let next = schedule.next_after(midnight).unwrap();
    assert_eq!(next.to_string(), "2026-03-02T02:00:00Z");
    assert_eq!(
        schedule.next_after(next).unwrap().to_string(),
        "2026-03-03T02:00:00Z"
    );
}

#[test]
fn a_client_certificate_goes_with_its_key_and_stands_for_the_token() {
    let with_cert = "client_certificate = \"a.crt\"\nclient_key = \"a.key\"\n";
    let s = crate::settings::read::<PeerSettings>(
        &format!("{}{with_cert}", minimal("token")).parse().unwrap(),
        "s",
    )
    .unwrap();
    assert!(s.token.is_none());
    assert_eq!(s.client_certificate, Some(("a.crt".into(), "a.key".into())));
    // Both a token and a certificate: allowed (the token is sent, the certificate shown).
    assert!(valid(with_cert).client_certificate.is_some());
    // One without the other, or an empty path: named by the key that is missing.
    let m = one_problem(
        &format!("{}client_certificate = \"a.crt\"\n", minimal("token")),
        "client_key",
    );
    assert!(
        m.contains("give both client_certificate and client_key"),
        "{m}"
    );
    one_problem(
        &format!("{}client_key = \"a.key\"\n", minimal("")),
        "client_certificate",
    );
    one_problem(
        &format!(
            "{}client_certificate = \" \"\nclient_key = \"a.key\"\n",
            minimal("")
        ),
        "client_certificate",
    );
    // Without either, the token is required and the message names both ways.
    let m = one_problem(&minimal("token"), "token_env");
    assert!(m.contains("client_certificate and client_key"), "{m}");
    // An external peer takes none.
    let p = problems(&format!(
        "peer_type = \"external\"\ndescription = \"Partner\"\nhost = \"x.example\"\n{with_cert}"
    ));
    assert!(
        p["s.client_certificate"].contains("takes no client certificate"),
        "{p:?}"
    );
}

#[test]
fn the_keys_offered_for_a_misspelt_one_leave_out_the_pbx_nodes_digit() {
    let m = one_problem(&format!("{}pbx_nod = \"pbx-hq\"\n", minimal("")), "pbx_nod");
    assert!(
        m.starts_with("unknown key; allowed here: peer_type, description, host")
            && m.contains("pbx_node")
            && !m.contains("outgoing_digit"),
        "{m}"
    );
    // Filled in by the configuration from the PBX node, it is read.
    assert_eq!(
        valid("outgoing_digit = \" 9 \"\n")
            .outgoing_digit
            .as_deref(),
        Some("9")
    );
}
