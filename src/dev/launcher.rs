//! `nextdue emulator start|stop|env`: the local AWS emulator for a project of its own, with
//! nothing of nextdue's repository at hand. It installs moto from PyPI into a virtualenv under
//! the state directory (once), writes nextdue's launcher beside it (moto with DynamoDB's
//! writes made atomic, as DynamoDB's are: `infra/moto_server.py`, built into this binary), and
//! runs it on a free loopback port in the background. nextdue's own scripts use
//! `infra/emulator.sh`, which does the same from the repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// The moto release the launcher is written for (the one nextdue's tests run on).
pub const MOTO: &str = "moto[server]==5.2.5";
/// nextdue's launcher of moto's server.
const LAUNCHER: &str = include_str!("../../infra/moto_server.py");
/// How long a fresh server may take to answer.
const STARTING: Duration = Duration::from_secs(30);

/// Where the emulator keeps its virtualenv, launcher, log, process id and port.
pub struct Emulator {
    state: PathBuf,
}

impl Emulator {
    /// The emulator whose state lives in `state` (`.nextdue` by default).
    pub fn new(state: impl Into<PathBuf>) -> Self {
        Emulator {
            state: state.into(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.state.join(name)
    }

    fn read(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.file(name))
            .ok()
            .map(|text| text.trim().to_owned())
    }

    /// The endpoint of the emulator this state started, if it is still running.
    pub fn running(&self) -> Option<String> {
        let pid = self.read("emulator.pid")?;
        let port = self.read("emulator.port")?;
        Path::new("/proc")
            .join(&pid)
            .exists()
            .then(|| format!("http://127.0.0.1:{port}"))
    }

    /// Starts the emulator unless it runs already; returns its endpoint.
    pub fn start(&self) -> anyhow::Result<String> {
        if let Some(endpoint) = self.running() {
            return Ok(endpoint);
        }
        std::fs::create_dir_all(&self.state)
            .with_context(|| format!("creating {}", self.state.display()))?;
        let python = self.virtualenv()?;
        let launcher = self.file("moto_server.py");
        std::fs::write(&launcher, LAUNCHER)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let log = std::fs::File::create(self.file("emulator.log"))?;
        let mut command = Command::new(&python);
        command
            .arg(&launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        // Its own process group: Ctrl-C in the shell that started it does not stop it.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.spawn().context("starting moto's server")?;
        std::fs::write(self.file("emulator.pid"), child.id().to_string())?;
        std::fs::write(self.file("emulator.port"), port.to_string())?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while started.elapsed() < STARTING {
            if ureq::get(&format!("{endpoint}/moto-api/")).call().is_ok() {
                return Ok(endpoint);
            }
            if self.running().is_none() {
                bail!(
                    "moto's server exited; its log: {}",
                    self.file("emulator.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "moto's server did not answer within {} s; its log: {}",
            STARTING.as_secs(),
            self.file("emulator.log").display()
        )
    }

    /// The virtualenv's python, with moto installed in it (from PyPI, the first time).
    fn virtualenv(&self) -> anyhow::Result<PathBuf> {
        let venv = self.file("venv");
        let python = venv.join("bin/python");
        let stamp = venv.join(".nextdue-moto");
        if python.exists() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == MOTO) {
            return Ok(python);
        }
        eprintln!(
            "emulator: installing {MOTO} into {} (from PyPI, about 30 s)",
            venv.display()
        );
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("python3 -m venv (the emulator needs Python 3 with venv and pip)")?;
        if !made.success() {
            bail!("python3 -m venv {} failed", venv.display());
        }
        let installed = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", MOTO])
            .status()
            .context("pip install moto")?;
        if !installed.success() {
            bail!("pip install {MOTO} failed (PyPI must be reachable)");
        }
        std::fs::write(&stamp, MOTO)?;
        Ok(python)
    }

    /// Stops the emulator this state started; whether one was running.
    pub fn stop(&self) -> anyhow::Result<bool> {
        let Some(pid) = self.running().and(self.read("emulator.pid")) else {
            return Ok(false);
        };
        Command::new("kill").arg(&pid).status()?;
        let _ = std::fs::remove_file(self.file("emulator.pid"));
        Ok(true)
    }
}

/// The `export …` lines that point the SDK (and the AWS CLI) at `endpoint`, with throwaway
/// credentials.
pub fn env_lines(endpoint: &str) -> String {
    format!(
        "export AWS_ENDPOINT_URL={endpoint}\nexport AWS_ACCESS_KEY_ID=testing\n\
         export AWS_SECRET_ACCESS_KEY=testing\nexport AWS_REGION=us-east-1\n\
         export AWS_DEFAULT_REGION=us-east-1"
    )
}
