//! One [`Config`] for every entry point, merged in this order (later wins):
//! built-in defaults < `ecomsql.toml` < `ECOMSQL_*` environment variables < command-line flags.
//!
//! Each layer is a [`ConfigLayer`] of optional values; [`ConfigLayer::merge`] stacks them and
//! [`ConfigLayer::check`] validates the result once into a [`Config`]. To add a setting: add an
//! optional field to `ConfigLayer`, read its env variable in [`ConfigLayer::from_env`], give it a
//! default and a check in [`ConfigLayer::check`], and a flag in `cli.rs`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Aligned table with a row cap and a summary line.
    #[default]
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// One JSON array of objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl std::str::FromStr for OutputFormat {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(Self::Table),
            "csv" => Ok(Self::Csv),
            "json" => Ok(Self::Json),
            "ndjson" => Ok(Self::Ndjson),
            _ => Err(ConfigError::Invalid {
                key: "format",
                value: s.to_string(),
                expected: "one of table, csv, json, ndjson",
            }),
        }
    }
}

/// Errors from reading or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys.
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A value is out of range or malformed.
    #[error("invalid value {value:?} for {key}: expected {expected}")]
    Invalid {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// One layer of settings; `None` means "not set here".
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigLayer {
    /// Folder whose sub-folders and Parquet files become tables.
    pub data_dir: Option<PathBuf>,
    /// Folder for history, models, the generated sample and run records.
    pub state_dir: Option<PathBuf>,
    /// DataFusion memory pool size: "4GiB", "512MB", a byte count, a share of the machine's
    /// memory ("80%", the default) or "unbounded"; sorts, aggregations and joins past it
    /// spill to disk.
    pub memory_limit: Option<String>,
    /// Partitions a query's scans, aggregations, joins and sorts are split into (default:
    /// [`default_target_partitions`]).
    pub target_partitions: Option<usize>,
    /// Default output format of results.
    pub format: Option<OutputFormat>,
    /// Largest number of rows the table format prints before eliding.
    pub max_rows: Option<usize>,
    /// Folder scheduled query files write their outputs under.
    pub output_root: Option<PathBuf>,
    /// The Flight SQL server (`ecomsql serve`): the `[flight]` table of the config file.
    pub flight: Option<FlightLayer>,
}

/// Validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory; `None` means "the generated sample".
    pub data_dir: Option<PathBuf>,
    /// State directory (always set).
    pub state_dir: PathBuf,
    /// Memory pool size in bytes; `None` is unbounded (asked for, or the machine's memory is
    /// unknown).
    pub memory_limit: Option<usize>,
    /// Query parallelism.
    pub target_partitions: usize,
    /// Default output format.
    pub format: OutputFormat,
    /// Row cap of the table format.
    pub max_rows: usize,
    /// Root of scheduled outputs: relative `output:` paths are under it, and no output may
    /// leave it.
    pub output_root: PathBuf,
    /// The Flight SQL server's settings.
    pub flight: FlightConfig,
}

impl Default for Config {
    fn default() -> Self {
        ConfigLayer::default().check().expect("defaults are valid")
    }
}

const ENV_PREFIX: &str = "ECOMSQL_";

impl ConfigLayer {
    /// Reads a TOML config file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })
    }

    /// Reads `ECOMSQL_DATA` (or `ECOMSQL_DATA_DIR`), `ECOMSQL_STATE_DIR`, `ECOMSQL_OUTPUT_ROOT`,
    /// `ECOMSQL_MEMORY_LIMIT`, `ECOMSQL_TARGET_PARTITIONS`, `ECOMSQL_FORMAT` and `ECOMSQL_MAX_ROWS` from `vars`.
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut layer = Self::default();
        for (k, v) in vars {
            let Some(key) = k.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            match key {
                "DATA" | "DATA_DIR" => layer.data_dir = Some(PathBuf::from(v)),
                "STATE_DIR" => layer.state_dir = Some(PathBuf::from(v)),
                "OUTPUT_ROOT" => layer.output_root = Some(PathBuf::from(v)),
                "MEMORY_LIMIT" => layer.memory_limit = Some(v),
                "TARGET_PARTITIONS" => {
                    layer.target_partitions = Some(v.parse().map_err(|_| ConfigError::Invalid {
                        key: "ECOMSQL_TARGET_PARTITIONS",
                        value: v.clone(),
                        expected: "a positive integer",
                    })?)
                }
                "FORMAT" => layer.format = Some(v.parse()?),
                "MAX_ROWS" => {
                    layer.max_rows = Some(v.parse().map_err(|_| ConfigError::Invalid {
                        key: "ECOMSQL_MAX_ROWS",
                        value: v.clone(),
                        expected: "a non-negative integer",
                    })?)
                }
                _ => {}
            }
        }
        Ok(layer)
    }

    /// Stacks `over` on top of `self`: values set in `over` win.
    pub fn merge(self, over: ConfigLayer) -> ConfigLayer {
        ConfigLayer {
            data_dir: over.data_dir.or(self.data_dir),
            state_dir: over.state_dir.or(self.state_dir),
            memory_limit: over.memory_limit.or(self.memory_limit),
            target_partitions: over.target_partitions.or(self.target_partitions),
            format: over.format.or(self.format),
            max_rows: over.max_rows.or(self.max_rows),
            output_root: over.output_root.or(self.output_root),
            flight: over.flight.or(self.flight),
        }
    }

    /// Validates the merged layer and fills in defaults.
    pub fn check(self) -> Result<Config, ConfigError> {
        let memory_limit = parse_memory_limit(
            self.memory_limit.as_deref().unwrap_or(DEFAULT_MEMORY_LIMIT),
            physical_memory(),
        )?;
        let target_partitions = match self.target_partitions {
            Some(0) => {
                return Err(ConfigError::Invalid {
                    key: "target_partitions",
                    value: "0".into(),
                    expected: "a positive integer",
                });
            }
            Some(n) => n,
            None => default_target_partitions(cores()),
        };
        Ok(Config {
            data_dir: self.data_dir,
            state_dir: self.state_dir.unwrap_or_else(default_state_dir),
            memory_limit,
            target_partitions,
            format: self.format.unwrap_or_default(),
            max_rows: self.max_rows.unwrap_or(40),
            output_root: self.output_root.unwrap_or_else(|| PathBuf::from("out")),
            flight: self.flight.unwrap_or_default().check()?,
        })
    }
}

/// The `[flight]` table of `ecomsql.toml`: the Flight SQL server (`ecomsql serve`).
///
/// ```toml
/// [flight]
/// listen = "0.0.0.0:50051"
/// token_ttl = "8h"
/// query_timeout = "5m"
/// max_running_queries = 8
/// max_queued_queries = 64
/// query_memory_limit = "2GiB"
/// shutdown_grace = "30s"
/// tls_cert = "server.pem"
/// tls_key = "server.key"
///
/// [[flight.users]]
/// name = "alice"
/// password_hash = "$argon2id$v=19$m=19456,t=2,p=1$…"   # from `ecomsql hash-password`
/// role = "analyst"                                      # reader, analyst or admin
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightLayer {
    /// Address to listen on (HOST:PORT); `--flight` overrides it.
    pub listen: Option<String>,
    /// Who may log in. Without users the server accepts anyone, and only on loopback.
    #[serde(default)]
    pub users: Vec<FlightUser>,
    /// How long a login token stays valid, e.g. "8h".
    pub token_ttl: Option<String>,
    /// Longest a query may run (queue wait included), e.g. "5m".
    pub query_timeout: Option<String>,
    /// Queries executing at once; more wait in the queue.
    pub max_running_queries: Option<usize>,
    /// Queries waiting for a slot; more are refused at once.
    pub max_queued_queries: Option<usize>,
    /// Memory pool of each query, e.g. "2GiB" (sorts and aggregations past it spill; what
    /// cannot spill fails that query alone).
    pub query_memory_limit: Option<String>,
    /// How long running queries may take to finish after SIGINT/SIGTERM, e.g. "30s".
    pub shutdown_grace: Option<String>,
    /// PEM certificate chain for TLS (with `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS (with `tls_cert`).
    pub tls_key: Option<PathBuf>,
}

/// One `[[flight.users]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlightUser {
    /// Login name.
    pub name: String,
    /// Argon2 PHC string (`ecomsql hash-password` makes one); never the password itself.
    pub password_hash: String,
    /// `reader`, `analyst` or `admin`.
    pub role: String,
}

/// Validated Flight SQL server settings.
#[derive(Debug, Clone)]
pub struct FlightConfig {
    /// Address to listen on.
    pub listen: String,
    /// Users (empty: open to anyone, loopback only).
    pub users: Vec<crate::flight::auth::User>,
    /// Login token lifetime.
    pub token_ttl: std::time::Duration,
    /// Query time limit (`None`: unlimited).
    pub query_timeout: Option<std::time::Duration>,
    /// Queries executing at once.
    pub max_running_queries: usize,
    /// Queries waiting for a slot.
    pub max_queued_queries: usize,
    /// Memory pool of each query in bytes (`None`: unbounded).
    pub query_memory_limit: Option<usize>,
    /// Grace period for running queries at shutdown.
    pub shutdown_grace: std::time::Duration,
    /// TLS certificate and key files.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl Default for FlightConfig {
    fn default() -> Self {
        FlightLayer::default()
            .check()
            .expect("flight defaults are valid")
    }
}

impl FlightLayer {
    /// Validates the `[flight]` table and fills in defaults.
    pub fn check(self) -> Result<FlightConfig, ConfigError> {
        let duration = |key: &'static str, v: Option<String>, default: Option<u64>| match v {
            Some(v) => parse_duration(key, &v).map(Some),
            None => Ok(default.map(std::time::Duration::from_secs)),
        };
        let mut users = Vec::with_capacity(self.users.len());
        for u in self.users {
            let role = u.role.parse().map_err(|_| ConfigError::Invalid {
                key: "flight.users.role",
                value: format!("{} (user {})", u.role, u.name),
                expected: "reader, analyst or admin",
            })?;
            let user =
                crate::flight::auth::User::new(&u.name, &u.password_hash, role).map_err(|_| {
                    ConfigError::Invalid {
                        key: "flight.users.password_hash",
                        value: format!("user {}", u.name),
                        expected: "an argon2 PHC string from `ecomsql hash-password`",
                    }
                })?;
            if users
                .iter()
                .any(|o: &crate::flight::auth::User| o.name == u.name)
            {
                return Err(ConfigError::Invalid {
                    key: "flight.users.name",
                    value: u.name,
                    expected: "each user listed once",
                });
            }
            users.push(user);
        }
        let positive = |key: &'static str, v: Option<usize>, default: usize| match v {
            Some(0) => Err(ConfigError::Invalid {
                key,
                value: "0".into(),
                expected: "a positive integer",
            }),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (c, _) => {
                return Err(ConfigError::Invalid {
                    key: if c.is_some() {
                        "flight.tls_key"
                    } else {
                        "flight.tls_cert"
                    },
                    value: "missing".into(),
                    expected: "tls_cert and tls_key set together",
                });
            }
        };
        Ok(FlightConfig {
            listen: self.listen.unwrap_or_else(|| "127.0.0.1:50051".to_string()),
            users,
            token_ttl: duration("flight.token_ttl", self.token_ttl, Some(8 * 3600))?
                .unwrap_or_default(),
            query_timeout: duration("flight.query_timeout", self.query_timeout, None)?,
            max_running_queries: positive(
                "flight.max_running_queries",
                self.max_running_queries,
                cores() * 2,
            )?,
            max_queued_queries: self.max_queued_queries.unwrap_or(256),
            query_memory_limit: self
                .query_memory_limit
                .as_deref()
                .map(parse_bytes)
                .transpose()?,
            shutdown_grace: duration("flight.shutdown_grace", self.shutdown_grace, Some(30))?
                .unwrap_or_default(),
            tls,
        })
    }
}

/// Parses "30s", "15m", "8h", "1d", "250ms" or a number of seconds.
pub fn parse_duration(key: &'static str, s: &str) -> Result<std::time::Duration, ConfigError> {
    let invalid = || ConfigError::Invalid {
        key,
        value: s.to_string(),
        expected: "a duration such as 250ms, 30s, 15m, 8h or 1d",
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| invalid())?;
    let secs = match unit.trim().to_ascii_lowercase().as_str() {
        "ms" => num / 1000.0,
        "" | "s" => num,
        "m" | "min" => num * 60.0,
        "h" => num * 3600.0,
        "d" => num * 86400.0,
        _ => return Err(invalid()),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(invalid());
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// `.ecomsql` in the working directory: next to the project an analyst is working in, and
/// git-ignored in this repository.
fn default_state_dir() -> PathBuf {
    PathBuf::from(".ecomsql")
}

/// The fewest partitions a query is split into when `target_partitions` is not set.
pub const MIN_DEFAULT_PARTITIONS: usize = 16;

/// Query partitions when none are configured: the number of cores, but at least
/// [`MIN_DEFAULT_PARTITIONS`]. More partitions than cores keep each partition's aggregation and
/// join hash tables small enough for the caches: grouping 287M events by a million users took
/// 14.3 s with 2 partitions and 12.1 s with 16 on 2 cores, sessionizing them 80 s and 74 s
/// (and 0.3 GB less memory). Partitions are units of work, not threads: DataFusion runs them
/// on one thread per core.
pub fn default_target_partitions(cores: usize) -> usize {
    cores.max(MIN_DEFAULT_PARTITIONS)
}

/// The number of cores this process may use (1 when unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The memory pool when none is configured: as DuckDB does, most of the machine's memory, so
/// that a sort or join larger than memory spills to disk instead of the process being killed.
pub const DEFAULT_MEMORY_LIMIT: &str = "80%";

/// A `memory_limit` setting in bytes: a size ([`parse_bytes`]), a percentage of `physical`
/// (the machine's memory, when known) or "unbounded" (`None`, as is a percentage of unknown
/// memory).
pub fn parse_memory_limit(s: &str, physical: Option<u64>) -> Result<Option<usize>, ConfigError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("unbounded") {
        return Ok(None);
    }
    let Some(percent) = t.strip_suffix('%') else {
        return parse_bytes(t).map(Some);
    };
    match percent.trim().parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => {
            Ok(physical.map(|bytes| (bytes as f64 * p / 100.0) as usize))
        }
        _ => Err(ConfigError::Invalid {
            key: "memory_limit",
            value: s.to_string(),
            expected: "a percentage of memory above 0% and at most 100%",
        }),
    }
}

/// The memory this process may use: the machine's (`MemTotal`), or its control group's limit
/// when that is smaller (a container). `None` where neither can be read (not Linux).
pub fn physical_memory() -> Option<u64> {
    let total = std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse::<u64>()
        .ok()?
        * 1024;
    // cgroup v2 ("max" when unlimited), then v1 (a huge number when unlimited).
    let group = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok()?.trim().parse::<u64>().ok());
    Some(group.map_or(total, |g| g.min(total)))
}

/// Parses "4GiB", "512 MB", "1.5g", "1000000" into bytes.
pub fn parse_bytes(s: &str) -> Result<usize, ConfigError> {
    let invalid = || ConfigError::Invalid {
        key: "memory_limit",
        value: s.to_string(),
        expected: "a size such as 4GiB, 512MB or a byte count",
    };
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let num: f64 = num.parse().map_err(|_| invalid())?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" => 1e12,
        "tib" => 1024.0f64.powi(4),
        _ => return Err(invalid()),
    };
    let bytes = num * mult;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(invalid());
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_limit_is_a_size_a_share_or_unbounded() {
        let gib = Some(1u64 << 30);
        assert_eq!(parse_memory_limit("512MiB", gib).unwrap(), Some(512 << 20));
        assert_eq!(parse_memory_limit("50%", gib).unwrap(), Some(512 << 20));
        assert_eq!(parse_memory_limit(" 100 % ", gib).unwrap(), Some(1 << 30));
        assert_eq!(parse_memory_limit("Unbounded", gib).unwrap(), None);
        // A share of unknown memory cannot be honoured: no limit, as before defaults existed.
        assert_eq!(parse_memory_limit("80%", None).unwrap(), None);
        for bad in ["0%", "101%", "%", "lots%", "-5%", "many"] {
            let e = parse_memory_limit(bad, gib).unwrap_err().to_string();
            assert!(
                e.contains("memory_limit") && e.contains(bad.trim()),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn memory_limit_defaults_to_most_of_memory() {
        let c = ConfigLayer::default().check().unwrap();
        match physical_memory() {
            Some(bytes) => {
                let limit = c.memory_limit.expect("a default limit") as u64;
                assert!(limit > bytes / 2 && limit < bytes, "{limit} of {bytes}");
            }
            None => assert_eq!(c.memory_limit, None),
        }
    }

    #[test]
    fn layers_stack_in_order() {
        let file: ConfigLayer =
            toml::from_str("memory_limit = \"1GiB\"\nformat = \"csv\"\nmax_rows = 5").unwrap();
        let env =
            ConfigLayer::from_env([("ECOMSQL_FORMAT".to_string(), "json".to_string())]).unwrap();
        let flags = ConfigLayer {
            max_rows: Some(7),
            ..Default::default()
        };
        let c = ConfigLayer::default()
            .merge(file)
            .merge(env)
            .merge(flags)
            .check()
            .unwrap();
        assert_eq!(c.memory_limit, Some(1 << 30));
        assert_eq!(c.format, OutputFormat::Json);
        assert_eq!(c.max_rows, 7);
    }

    #[test]
    fn partitions_default_to_at_least_sixteen() {
        assert_eq!(default_target_partitions(2), MIN_DEFAULT_PARTITIONS);
        assert_eq!(default_target_partitions(64), 64);
        let c = ConfigLayer::default().check().unwrap();
        assert_eq!(c.target_partitions, default_target_partitions(cores()));
        let set = ConfigLayer {
            target_partitions: Some(3),
            ..Default::default()
        };
        assert_eq!(set.check().unwrap().target_partitions, 3);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(toml::from_str::<ConfigLayer>("colour = 1").is_err());
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("0").is_err());
        assert_eq!(parse_bytes("512MB").unwrap(), 512_000_000);
        let bad = ConfigLayer {
            target_partitions: Some(0),
            ..Default::default()
        };
        assert!(
            bad.check()
                .unwrap_err()
                .to_string()
                .contains("target_partitions")
        );
    }

    #[test]
    fn flight_table_is_checked() {
        let hash = crate::flight::auth::hash_password("s3cret").unwrap();
        let file: ConfigLayer = toml::from_str(&format!(
            "[flight]\nlisten = \"0.0.0.0:1\"\ntoken_ttl = \"15m\"\nquery_memory_limit = \"64MiB\"\n\
             [[flight.users]]\nname = \"ann\"\npassword_hash = \"{hash}\"\nrole = \"analyst\"\n"
        ))
        .unwrap();
        let c = file.check().unwrap();
        assert_eq!(c.flight.listen, "0.0.0.0:1");
        assert_eq!(c.flight.token_ttl, std::time::Duration::from_secs(900));
        assert_eq!(c.flight.query_memory_limit, Some(64 << 20));
        assert_eq!(c.flight.users[0].name, "ann");
        assert_eq!(Config::default().flight.listen, "127.0.0.1:50051");

        let bad_role = format!(
            "[[flight.users]]\nname = \"x\"\npassword_hash = \"{hash}\"\nrole = \"root\"\n"
        );
        let err = toml::from_str::<ConfigLayer>(&format!("[flight]\n{bad_role}"))
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("root (user x)"), "{err}");
        let plain =
            "[[flight.users]]\nname = \"x\"\npassword_hash = \"hunter2\"\nrole = \"reader\"\n";
        let err = toml::from_str::<ConfigLayer>(&format!("[flight]\n{plain}"))
            .unwrap()
            .check()
            .unwrap_err();
        assert!(err.to_string().contains("argon2 PHC"), "{err}");
        assert!(parse_duration("k", "0s").is_err());
        assert!(parse_duration("k", "soon").is_err());
        assert_eq!(parse_duration("k", "250ms").unwrap().as_millis(), 250);
    }
}
