//! Sealing a file the way the browser does (same `app::crypto` code, natively), and the
//! declare-then-upload dance, for tests that need a stored dataset.

use app::crypto::envelope::{seal, Header};
use app::crypto::passphrase::seal_secret;
use app::crypto::{b64, dataset_id_bytes, new_dataset_id, wrap, DataKey, KeyPair, Recipient};
use app::model::dataset::{NewDataset, OwnerKey, TrainerKey};
use app::table::{Format, ParseOptions, Table};

use super::{client, Remote};

pub const PASSPHRASE: &str = "owner passphrase for tests";

pub struct Sealed {
    pub id: String,
    pub plaintext: Vec<u8>,
    pub envelope: Vec<u8>,
    pub key: DataKey,
    pub declared: NewDataset,
}

impl Remote {
    pub async fn trainer_key(&self) -> TrainerKey {
        client().get(self.url("/api/keys/trainer")).send().await.unwrap().json().await.unwrap()
    }

    /// Creates and registers an owner key for `token`'s user; returns the key pair.
    pub async fn owner_key(&self, token: &str) -> KeyPair {
        let pair = KeyPair::generate().unwrap();
        let key = OwnerKey {
            public_key: b64(pair.public()),
            key_id: pair.key_id(),
            sealed_secret: seal_secret(pair.secret(), PASSPHRASE, pair.public()).unwrap(),
        };
        let r = client().put(self.url("/api/keys/me")).bearer_auth(token).json(&key).send().await.unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        pair
    }

    /// Seals `plaintext` for the trainer (and `owner`, if given) as a dataset in healthcare/oncology.
    pub async fn seal(&self, plaintext: &[u8], format: Format, owner: Option<&KeyPair>, chunk_size: u32) -> Sealed {
        let table = Table::parse(plaintext, format, &ParseOptions::default()).expect("test data parses");
        let trainer = self.trainer_key().await;
        let trainer_pub = app::crypto::unb64("", &trainer.public_key).unwrap();
        let id = new_dataset_id().unwrap();
        let id_bytes = dataset_id_bytes(&id).unwrap();
        let key = DataKey::generate().unwrap();
        let header = Header::new(id_bytes, chunk_size).unwrap();
        let header_bytes = header.to_bytes();
        let envelope = seal(&key, header, plaintext).unwrap();
        let mut wrapped_keys = vec![wrap::wrap(&key, &trainer_pub, &id_bytes, Recipient::Trainer).unwrap()];
        if let Some(o) = owner {
            wrapped_keys.push(wrap::wrap(&key, o.public(), &id_bytes, Recipient::Owner).unwrap());
        }
        let declared = NewDataset {
            id: id.clone(),
            name: "test data".into(),
            domain: "healthcare".into(),
            subdomain: "oncology".into(),
            format,
            parse_options: ParseOptions::default(),
            schema: table.columns.clone(),
            rows: table.len() as u64,
            plaintext_size: plaintext.len() as u64,
            wrapped_keys,
            envelope_header: b64(&header_bytes),
            shared: false,
            target: None,
        };
        Sealed { id, plaintext: plaintext.to_vec(), envelope, key, declared }
    }

    pub async fn declare(&self, token: &str, declared: &NewDataset) -> reqwest::Response {
        client().post(self.url("/api/datasets")).bearer_auth(token).json(declared).send().await.unwrap()
    }

    /// Sends `body` in 64 KiB pieces, as a streaming request body.
    pub async fn upload(&self, token: &str, id: &str, body: Vec<u8>) -> reqwest::Response {
        client()
            .put(self.url(&format!("/api/datasets/{id}/blob")))
            .bearer_auth(token)
            .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces(&body))))
            .send()
            .await
            .unwrap()
    }

    /// Starts an upload that sends `part` and then never ends (a client still mid-upload), on
    /// a task of its own, so the test can kill the server or abort the client meanwhile.
    pub fn stalled_upload(&self, token: &str, id: &str, part: &[u8]) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let body = futures::StreamExt::chain(futures::stream::iter(pieces(part)), futures::stream::pending());
        let request =
            client().put(self.url(&format!("/api/datasets/{id}/blob"))).bearer_auth(token).body(reqwest::Body::wrap_stream(body)).send();
        tokio::spawn(request)
    }

    /// Declares and uploads; asserts both succeed.
    pub async fn store_dataset(&self, token: &str, s: &Sealed) {
        let r = self.declare(token, &s.declared).await;
        assert_eq!(r.status(), 201, "declare: {}", r.text().await.unwrap());
        let r = self.upload(token, &s.id, s.envelope.clone()).await;
        assert_eq!(r.status(), 200, "upload: {}", r.text().await.unwrap());
    }
}

/// `bytes` in 64 KiB pieces, as a streaming request body sends them.
fn pieces(bytes: &[u8]) -> Vec<Result<Vec<u8>, std::io::Error>> {
    bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect()
}
