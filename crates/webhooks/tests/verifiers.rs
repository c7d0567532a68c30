//! Our signatures checked by independent implementations: the PyPI and npm `standardwebhooks`
//! packages, run through `tests/verifiers/verify.py` and `verify.mjs`.
//!
//! They come from `SCIMGATE_TEST_WEBHOOK_VERIFIERS`, the directory `ensure_webhook_verifiers` in
//! `scripts/services.sh` prepares (`scripts/test` does it). Without it the test fails: it is never
//! skipped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use webhooks::{WebhookSecret, signature_header};

const ENV: &str = "SCIMGATE_TEST_WEBHOOK_VERIFIERS";

struct Verifiers {
    dir: PathBuf,
    scripts: PathBuf,
}

impl Verifiers {
    fn from_env() -> Self {
        let Some(dir) = std::env::var_os(ENV) else {
            panic!(
                "{ENV} is not set. It names a directory with venv/bin/python (PyPI standardwebhooks) \
                 and node_modules/standardwebhooks (npm). Run scripts/test, or \
                 `source scripts/services.sh && ensure_webhook_verifiers` before cargo test."
            );
        };
        let dir = PathBuf::from(dir);
        for needed in [
            "venv/bin/python",
            "node_modules/standardwebhooks/package.json",
        ] {
            assert!(
                dir.join(needed).exists(),
                "{ENV}={} has no {needed}: run ensure_webhook_verifiers from scripts/services.sh",
                dir.display()
            );
        }
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/verifiers");
        Self { dir, scripts }
    }

    /// Whether each verifier accepts the message with `secret`; both must agree.
    fn accepts(&self, secret: &WebhookSecret, msg: &Signed) -> bool {
        let python = self.run(
            Command::new(self.dir.join("venv/bin/python")).arg(self.scripts.join("verify.py")),
            secret,
            msg,
        );
        let node = self.run(
            Command::new("node").arg(self.scripts.join("verify.mjs")),
            secret,
            msg,
        );
        assert_eq!(
            python, node,
            "the Python and npm verifiers disagree on {msg:?}"
        );
        python
    }

    fn run(&self, command: &mut Command, secret: &WebhookSecret, msg: &Signed) -> bool {
        let mut child = command
            .env(ENV, &self.dir)
            .arg(secret.expose())
            .arg(&msg.id)
            .arg(msg.timestamp.to_string())
            .arg(&msg.signature)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {command:?}: {e}"));
        child.stdin.take().unwrap().write_all(&msg.body).unwrap();
        let output = child.wait_with_output().unwrap();
        match output.status.code() {
            Some(0) => true,
            Some(1) => false,
            _ => panic!(
                "{command:?} failed to run: {:?}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

#[derive(Debug)]
struct Signed {
    id: String,
    timestamp: i64,
    signature: String,
    body: Vec<u8>,
}

fn signed(secrets: &[&WebhookSecret], id: &str, body: &str) -> Signed {
    // The verifiers compare against their own clock (5 minutes' tolerance): sign with now.
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    Signed {
        id: id.to_owned(),
        timestamp,
        signature: signature_header(secrets, id, timestamp, body.as_bytes()),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn pypi_and_npm_standardwebhooks_verify_our_signatures() {
    let verifiers = Verifiers::from_env();
    let secret = WebhookSecret::generate();
    let bodies = [
        r#"{"type":"user.created","data":{"id":"2f1c","userName":"ada@example.com"}}"#,
        r#"{"type":"user.updated","data":{"displayName":"Zoë Ångström 名前 🎉","note":"tab\there \"quoted\""}}"#,
        "{}",
        "",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let msg = signed(&[&secret], &format!("msg_{i}xK2"), body);
        assert!(verifiers.accepts(&secret, &msg), "{msg:?}");
    }

    // The checks are not vacuous: another secret, a changed body or id is refused.
    let msg = signed(&[&secret], "msg_neg", bodies[1]);
    assert!(!verifiers.accepts(&WebhookSecret::generate(), &msg));
    let mut changed = signed(&[&secret], "msg_neg", bodies[1]);
    changed.body = bodies[1].replace("Zoë", "Zoe").into_bytes();
    assert!(!verifiers.accepts(&secret, &changed));
    let mut other_id = signed(&[&secret], "msg_neg", bodies[1]);
    other_id.id = "msg_other".to_owned();
    assert!(!verifiers.accepts(&secret, &other_id));
}

#[test]
fn a_rotation_header_verifies_with_the_old_and_the_new_secret() {
    let verifiers = Verifiers::from_env();
    let old = WebhookSecret::generate();
    let new = WebhookSecret::generate();
    let msg = signed(
        &[&old, &new],
        "msg_rotation",
        r#"{"type":"group.deleted","data":{"displayName":"Équipe ⚙"}}"#,
    );
    assert_eq!(msg.signature.split(' ').count(), 2);
    assert!(verifiers.accepts(&old, &msg));
    assert!(verifiers.accepts(&new, &msg));
    assert!(!verifiers.accepts(&WebhookSecret::generate(), &msg));
}
