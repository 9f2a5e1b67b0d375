//! Images and registries: pull and push (prepared, then run, so that a front end can print
//! what it pulls before the layers come), tag listing, `login`/`logout` with the
//! credential store, and the `run --pull` decision.

use berth_image::{Digest, ImageRecord, LoadProgress, Platform, Reference, Store};
use berth_registry::Client;
use berth_registry::auth::{self, Credentials};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// What `run --pull=POLICY` must do about its image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullDecision {
    /// The image is here (of the wanted platform): use it.
    UseLocal,
    /// The image is missing, or here only for another platform: pull it.
    PullMissing,
    /// `--pull=always`: pull although the image is here.
    PullAgain,
}

/// What a pull did.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub image: ImageRecord,
    /// The manifest digest (Docker's `Digest:` line).
    pub manifest: Digest,
    /// Layers downloaded; 0 when the image was up to date.
    pub downloaded: usize,
}

/// What a push did.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The pushed manifest's digest.
    pub manifest: Digest,
    /// The manifest's size in bytes.
    pub size: u64,
}

/// What `logout` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The registry, normalized (`docker.io` for Docker Hub's names).
    pub registry: String,
    /// Whether there were credentials to forget.
    pub removed: bool,
}

/// A pull whose reference, platform and registry configuration are checked: run it with
/// [`PendingPull::run`].
pub struct PendingPull<'e> {
    engine: &'e Engine,
    store: &'e Store,
    client: Client,
    reference: Reference,
    platform: Platform,
}

impl PendingPull<'_> {
    /// The reference to pull (with `latest` when none was given).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Downloads (and unpacks) what the store does not have yet.
    pub fn run(self, progress: &(dyn LoadProgress + Sync)) -> Result<Pulled> {
        let p = self
            .client
            .pull(self.store, &self.reference, &self.platform, progress)?;
        self.engine.image_event(
            "pull",
            &self.reference.familiar(),
            &self.reference.familiar_name(),
            &super::manage::labels_of(self.store, &p.image),
        );
        Ok(Pulled {
            image: p.image,
            manifest: p.manifest,
            downloaded: p.downloaded,
        })
    }
}

/// A push whose image and registry configuration are checked: run it with
/// [`PendingPush::run`].
pub struct PendingPush<'e> {
    engine: &'e Engine,
    store: &'e Store,
    client: Client,
    reference: Reference,
    image: ImageRecord,
}

impl PendingPush<'_> {
    /// Where the image goes (with `latest` when no tag was given).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// Uploads the blobs the registry does not have, then the manifest.
    pub fn run(self, progress: &dyn LoadProgress) -> Result<Pushed> {
        let p = self
            .client
            .push(self.store, &self.image, &self.reference, progress)?;
        self.engine.image_event(
            "push",
            &self.reference.familiar(),
            &self.reference.familiar_name(),
            &super::manage::labels_of(self.store, &self.image),
        );
        let size = self.store.blobs().size(&p.manifest).unwrap_or(0);
        Ok(Pushed {
            manifest: p.manifest,
            size,
        })
    }
}

/// Docker's name for the registry of `docker login [SERVER]`: scheme and path dropped,
/// Docker Hub's aliases as `docker.io`.
fn registry_name(server: Option<&str>) -> String {
    let s = server.unwrap_or("docker.io");
    let s = s
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    if s == "index.docker.io" || s == "registry-1.docker.io" {
        "docker.io".into()
    } else {
        s.to_owned()
    }
}

/// The registry client with the configuration of `BERTH_CONFIG` or /etc/berth/berth.toml;
/// `BERTH_PUSH_CHUNK_SIZE` (bytes) uploads larger blobs in chunks of that size (for tests
/// and slow links).
fn client() -> Result<Client> {
    let mut client = Client::from_default_config()?;
    if let Some(n) = std::env::var("BERTH_PUSH_CHUNK_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        client = client.with_chunk_size(n);
    }
    Ok(client)
}

impl Engine {
    /// Prepares a pull of `name` (`NAME[:TAG|@DIGEST]`) for `platform` (`os/arch[/variant]`,
    /// default: the host's).
    pub fn image_pull(&self, name: &str, platform: Option<&str>) -> Result<PendingPull<'_>> {
        let store = self.store()?;
        let reference = Reference::parse_tagged(name)?;
        let platform = match platform {
            Some(p) => p.parse()?,
            None => Platform::host(),
        };
        Ok(PendingPull {
            engine: self,
            store,
            client: client()?,
            reference,
            platform,
        })
    }

    /// Prepares a push of the local image `name` (`NAME[:TAG]`) to the registry its name
    /// says.
    pub fn image_push(&self, name: &str) -> Result<PendingPush<'_>> {
        let store = self.store()?;
        let reference = Reference::parse_tagged(name)?;
        let image = store.resolve(name)?;
        Ok(PendingPush {
            engine: self,
            store,
            client: client()?,
            reference,
            image,
        })
    }

    /// The tags the registry lists for `repository`'s repository (`pull --all-tags`).
    pub fn registry_tags(&self, repository: &Reference) -> Result<Vec<String>> {
        Ok(client()?.tags(repository)?)
    }

    /// The local tags (full names) in `repository`'s repository, sorted (`push --all-tags`).
    pub fn local_tags(&self, repository: &Reference) -> Result<Vec<String>> {
        let prefix = format!("{}:", repository.name());
        let mut names: Vec<String> = self
            .store()?
            .images()?
            .into_iter()
            .flat_map(|i| i.tags)
            .filter(|t| t.starts_with(&prefix))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Stores credentials for `server` (default Docker Hub) once the registry accepts them;
    /// on refusal the previous credentials stay. Returns the registry's name. Credentials
    /// belong to the user, not to a data root: no engine needs to be open.
    pub fn registry_login(server: Option<&str>, username: &str, password: &str) -> Result<String> {
        let registry = registry_name(server);
        let client = client()?;
        let creds = Credentials {
            username: username.to_owned(),
            password: password.to_owned(),
        };
        // Store first so the check uses them; roll back on failure.
        let previous = auth::lookup(&registry);
        auth::store(&registry, &creds)?;
        if let Err(e) = client.check_login(&registry) {
            match previous {
                Some(p) => auth::store(&registry, &p)?,
                None => {
                    auth::remove(&registry)?;
                }
            }
            return Err(e.into());
        }
        Ok(registry)
    }

    /// Forgets the credentials for `server` (default Docker Hub); no engine needs to be
    /// open.
    pub fn registry_logout(server: Option<&str>) -> Result<Logout> {
        let registry = registry_name(server);
        let removed = auth::remove(&registry)?;
        Ok(Logout { registry, removed })
    }

    /// What `run --pull=POLICY [--platform P]` must do about `image`: `policy` is always,
    /// missing or never; a local image of another platform counts as missing, as in
    /// Docker (and is an error with `never`).
    pub fn pull_decision(
        &self,
        image: &str,
        policy: &str,
        platform: Option<&str>,
    ) -> Result<PullDecision> {
        let store = self.store()?;
        let have = match store.resolve(image) {
            Ok(img) => match platform {
                Some(p) => {
                    let want: Platform = p.parse()?;
                    let cfg = store.config_json(&img)?;
                    let field = |k: &str| cfg.get(k).and_then(|v| v.as_str()).unwrap_or("");
                    let ok = want.matches(
                        field("os"),
                        field("architecture"),
                        cfg.get("variant").and_then(|v| v.as_str()),
                    );
                    if !ok && policy == "never" {
                        return Err(Error::PlatformMismatch {
                            reference: image.to_owned(),
                            found: format!("{}/{}", field("os"), field("architecture")),
                            wanted: want.to_string(),
                        });
                    }
                    ok
                }
                None => true,
            },
            Err(err) if err.kind() == berth_image::ErrorKind::NotFound => false,
            Err(err) => return Err(err.into()),
        };
        match policy {
            "always" if have => Ok(PullDecision::PullAgain),
            "always" | "missing" if !have => Ok(PullDecision::PullMissing),
            "missing" => Ok(PullDecision::UseLocal),
            "never" if have => Ok(PullDecision::UseLocal),
            "never" => Err(berth_image::Error::ImageNotFound(image.to_owned()).into()),
            other => Err(Error::InvalidValue(format!(
                "invalid pull policy {other:?}: use always, missing or never"
            ))),
        }
    }
}
