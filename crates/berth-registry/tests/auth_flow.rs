//! The auth dance against a tiny fake registry on 127.0.0.1: anonymous → 401 challenge →
//! basic credentials or a bearer token from the realm → retry.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use berth_registry::{Client, RegistryConfig};

/// Serve `n` connections with `handler(request line, headers) -> (status, extra headers, body)`.
fn serve(
    l: TcpListener,
    n: usize,
    handler: impl Fn(&str, &[String]) -> (u16, Vec<String>, String) + Send + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let port = l.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    let h = std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((s, _)) = l.accept() else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                headers.push(h.trim().to_owned());
            }
            log2.lock().unwrap().push(format!(
                "{} | {}",
                line.trim(),
                headers
                    .iter()
                    .filter(|h| h.to_lowercase().starts_with("authorization"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(",")
            ));
            let (status, extra, body) = handler(line.trim(), &headers);
            let mut s = s;
            let mut resp = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                body.len()
            );
            for e in extra {
                resp.push_str(&e);
                resp.push_str("\r\n");
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            s.write_all(resp.as_bytes()).unwrap();
        }
    });
    (port, log, h)
}

fn auth_of(headers: &[String]) -> Option<String> {
    headers
        .iter()
        .find(|h| h.to_lowercase().starts_with("authorization:"))
        .map(|h| h["authorization:".len()..].trim().to_owned())
}

/// One credentials file for the whole test binary (the environment is process-wide).
fn with_creds(_dir: &std::path::Path, registry: &str) {
    static DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    static LOCK: Mutex<()> = Mutex::new(());
    let dir = DIR.get_or_init(|| {
        let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("berth-auth-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        // SAFETY: set once, before any client in this binary reads the environment.
        unsafe {
            std::env::set_var("BERTH_AUTH_FILE", d.join("auth.json"));
            std::env::set_var("DOCKER_CONFIG", &d);
        }
        d
    });
    let _g = LOCK.lock().unwrap();
    let _ = dir;
    berth_registry::auth::store(
        registry,
        &berth_registry::auth::Credentials {
            username: "alice".into(),
            password: "s3cret".into(),
        },
    )
    .unwrap();
}

fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

#[test]
fn bearer_challenge_fetches_a_token() {
    let t = tempfile::tempdir().unwrap();
    let (l, port) = listener();
    let (_, log, h) = serve(l, 3, move |line, headers| {
        let auth = auth_of(headers);
        if line.starts_with("GET /token") {
            assert!(
                line.contains("service=test") && line.contains("scope="),
                "{line}"
            );
            // stored credentials go to the token endpoint as basic auth
            assert_eq!(auth.as_deref(), Some("Basic YWxpY2U6czNjcmV0"));
            return (200, vec![], r#"{"token":"tok123"}"#.into());
        }
        match auth.as_deref() {
            Some("Bearer tok123") => (200, vec![], "{}".into()),
            _ => (
                401,
                vec![format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\""
                )],
                String::new(),
            ),
        }
    });
    let registry = format!("127.0.0.1:{port}");
    with_creds(t.path(), &registry);
    Client::new(RegistryConfig::default())
        .check_login(&registry)
        .unwrap();
    h.join().unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[2].contains("Bearer tok123"), "{log:?}");
}

#[test]
fn basic_challenge_uses_stored_credentials() {
    let t = tempfile::tempdir().unwrap();
    let (l, port) = listener();
    let (_, log, h) = serve(l, 2, |_, headers| match auth_of(headers).as_deref() {
        Some("Basic YWxpY2U6czNjcmV0") => (200, vec![], "{}".into()),
        _ => (
            401,
            vec!["WWW-Authenticate: Basic realm=\"Registry\"".into()],
            String::new(),
        ),
    });
    let registry = format!("127.0.0.1:{port}");
    with_creds(t.path(), &registry);
    Client::new(RegistryConfig::default())
        .check_login(&registry)
        .unwrap();
    h.join().unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[1].contains("Basic"), "{log:?}");
}

#[test]
fn plain_http_refused_for_remote_registries() {
    let cfg: RegistryConfig = RegistryConfig::default();
    assert!(!cfg.http_allowed("registry.example", "http://registry.example"));
    assert!(cfg.http_allowed("127.0.0.1:5000", "http://127.0.0.1:5000"));
    assert_eq!(
        cfg.endpoints("registry.example"),
        vec!["https://registry.example"]
    );
}
