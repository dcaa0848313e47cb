//! The header of a query file: its leading `-- key: value` comment lines.
//!
//! ```sql
//! -- name: daily_rfm_segments
//! -- schedule: 0 3 * * *
//! -- timezone: Asia/Shanghai
//! -- output: rfm/dt={date}/segments.parquet
//! -- mode: overwrite
//! -- timeout: 30m
//! -- retries: 2
//! -- param: min_orders = 2
//! SELECT …;
//! ```
//!
//! The header is every comment line before the first SQL; a line `-- word: value` there is a
//! key, any other comment line is free text. Keys are checked once, here ([`parse_job`]), into
//! a [`Job`]: an unknown key, a bad cron, a bad path or an output outside the output root is a
//! [`ScheduleError::Header`] naming the file and line. To add a key: add it to [`KEYS`], give
//! it a field in [`Job`] and a check in `parse_job`, and a row in the README.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;

use super::ScheduleError;
use super::cron::CronSchedule;
use super::output::{OutputFormat, WriteMode};
use super::params::{self, BUILTIN_NAMES, ParamValue};

/// The keys a header may hold.
pub const KEYS: [&str; 10] = [
    "name",
    "description",
    "schedule",
    "timezone",
    "output",
    "mode",
    "timeout",
    "retries",
    "catchup",
    "param",
];

/// What the scheduler does about runs missed while it was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatchUp {
    /// Run only the most recent missed run (the default).
    Latest,
    /// Run every missed run since the last recorded one, oldest first, at most
    /// [`CATCH_UP_CAP`] (the most recent ones).
    All,
    /// Run nothing missed; only runs that fall due while the scheduler is up.
    None,
}

/// The most runs `catchup: all` starts for one job at once.
pub const CATCH_UP_CAP: usize = 100;

/// Default `timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Largest `retries`.
pub const MAX_RETRIES: u32 = 10;

/// Where a job writes: a path template under the output root.
#[derive(Debug, Clone)]
pub struct OutputSpec {
    /// The path as written, relative to the output root, with `{…}` placeholders.
    pub template: String,
    /// File format, from the extension.
    pub format: OutputFormat,
    /// Header line of the `output` key.
    pub line: usize,
}

/// A validated query file.
#[derive(Debug, Clone)]
pub struct Job {
    /// Job name (`name:`, or the file name without `.sql`).
    pub name: String,
    /// The file.
    pub file: PathBuf,
    /// `schedule:`; files without one can only be run with `ecomsql run`.
    pub schedule: Option<CronSchedule>,
    /// `timezone:` (UTC by default): the zone of the schedule and of `{date}`.
    pub timezone: Tz,
    /// `output:`.
    pub output: Option<OutputSpec>,
    /// `mode:`.
    pub mode: WriteMode,
    /// `timeout:` per attempt.
    pub timeout: Duration,
    /// `retries:` after a failed attempt.
    pub retries: u32,
    /// `catchup:`.
    pub catch_up: CatchUp,
    /// `param:` defaults, in order.
    pub params: Vec<(String, ParamValue)>,
    /// The whole file (the header lines are SQL comments).
    pub sql: String,
}

impl Job {
    /// Checks that every `{name}` in the SQL is a built-in, a declared parameter or one of
    /// `extra` (names passed with `--param`).
    pub fn check_placeholders(&self, extra: &[String]) -> Result<(), ScheduleError> {
        let found = params::placeholders(&self.sql).map_err(|e| self.error(1, e.to_string()))?;
        for p in found {
            if !self.knows(&p.name) && !extra.contains(&p.name) {
                return Err(self.error(
                    p.line,
                    format!(
                        "unknown parameter {{{}}}: built-ins are {{date}} and {{run_ts}}; declare others with `-- param: {} = <default>`",
                        p.name, p.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn knows(&self, name: &str) -> bool {
        BUILTIN_NAMES.contains(&name) || self.params.iter().any(|(k, _)| k == name)
    }

    /// A header error at `line` of this file.
    pub fn error(&self, line: usize, message: String) -> ScheduleError {
        ScheduleError::Header {
            file: self.file.clone(),
            line,
            message,
        }
    }
}

/// Parses and validates `text` (the contents of `file`). Relative output paths are under
/// `output_root`; absolute ones must be inside it.
pub fn parse_job(file: &Path, text: &str, output_root: &Path) -> Result<Job, ScheduleError> {
    let err = |line: usize, message: String| ScheduleError::Header {
        file: file.to_path_buf(),
        line,
        message,
    };
    let mut entries: Vec<(usize, String, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        if let Some((key, value)) = header_entry(comment) {
            entries.push((i + 1, key, value));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut job = Job {
        name: String::new(),
        file: file.to_path_buf(),
        schedule: None,
        timezone: Tz::UTC,
        output: None,
        mode: WriteMode::Overwrite,
        timeout: DEFAULT_TIMEOUT,
        retries: 0,
        catch_up: CatchUp::Latest,
        params: vec![],
        sql: text.to_string(),
    };
    let mut name = None;
    let mut schedule = None;
    let mut output_line = 0;
    let mut output_text = None;
    for (line, key, value) in &entries {
        let line = *line;
        let Some(k) = KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            return Err(err(
                line,
                format!(
                    "unknown header key {key:?}: expected one of {}",
                    KEYS.join(", ")
                ),
            ));
        };
        if *k != "param" && seen.contains(k) {
            return Err(err(line, format!("header key {k} is given twice")));
        }
        seen.push(k);
        if value.is_empty() && *k != "description" {
            return Err(err(line, format!("header key {k} needs a value")));
        }
        match *k {
            "name" => name = Some((line, value.clone())),
            "description" => {}
            "schedule" => schedule = Some((line, value.clone())),
            "timezone" => job.timezone = CronSchedule::parse_zone(value).map_err(|e| err(line, e))?,
            "output" => {
                output_line = line;
                output_text = Some(value.clone());
            }
            "mode" => {
                job.mode = match value.to_ascii_lowercase().as_str() {
                    "overwrite" => WriteMode::Overwrite,
                    "append" => WriteMode::Append,
                    _ => {
                        return Err(err(
                            line,
                            format!("invalid mode {value:?}: expected overwrite or append"),
                        ));
                    }
                }
            }
            "timeout" => job.timeout = parse_duration(value).map_err(|e| err(line, e))?,
            "retries" => {
                job.retries = value
                    .parse::<u32>()
                    .ok()
                    .filter(|r| *r <= MAX_RETRIES)
                    .ok_or_else(|| {
                        err(
                            line,
                            format!("invalid retries {value:?}: expected a whole number from 0 to {MAX_RETRIES}"),
                        )
                    })?
            }
            "catchup" => {
                job.catch_up = match value.to_ascii_lowercase().as_str() {
                    "latest" => CatchUp::Latest,
                    "all" => CatchUp::All,
                    "none" => CatchUp::None,
                    _ => {
                        return Err(err(
                            line,
                            format!("invalid catchup {value:?}: expected latest, all or none"),
                        ));
                    }
                }
            }
            "param" => {
                let Some((pk, pv)) = value.split_once('=') else {
                    return Err(err(
                        line,
                        format!("invalid param {value:?}: expected `name = default value`"),
                    ));
                };
                let pk = pk.trim();
                params::check_name(pk).map_err(|e| err(line, e))?;
                if job.params.iter().any(|(k, _)| k == pk) {
                    return Err(err(line, format!("param {pk} is declared twice")));
                }
                job.params.push((pk.to_string(), ParamValue::infer(pv)));
            }
            _ => unreachable!("every key in KEYS has a branch"),
        }
    }
    let (name_line, name_text) = match name {
        Some(n) => n,
        None => (
            1,
            file.file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
        ),
    };
    if name_text.is_empty()
        || !name_text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(err(
            name_line,
            format!("invalid job name {name_text:?}: use letters, digits, _ and -"),
        ));
    }
    job.name = name_text;
    if let Some((line, text)) = schedule {
        job.schedule = Some(CronSchedule::parse(&text, job.timezone).map_err(|e| err(line, e))?);
    }
    if let Some(text) = output_text {
        let mut spec = check_output(&text, output_root, &job).map_err(|e| err(output_line, e))?;
        spec.line = output_line;
        job.output = Some(spec);
    } else if let Some(s) = entries
        .iter()
        .find(|(_, k, _)| k.eq_ignore_ascii_case("schedule"))
    {
        return Err(err(
            s.0,
            "a scheduled file needs an output: header (e.g. `-- output: name/dt={date}/part.parquet`)"
                .to_string(),
        ));
    }
    if job.schedule.is_some() {
        // Scheduled runs get no --param: every placeholder must be known now.
        job.check_placeholders(&[])?;
    }
    Ok(job)
}

/// `-- key: value` → (key, value) when the comment starts with a bare word and a colon.
fn header_entry(comment: &str) -> Option<(String, String)> {
    let c = comment.trim_start();
    let (key, value) = c.split_once(':')?;
    let key = key.trim_end();
    let is_word = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_word.then(|| (key.to_string(), value.trim().to_string()))
}

/// `30m`, `1h30m`, `45s`, `2h`, `1d` → a positive duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: expected e.g. 45s, 30m, 1h30m or 1d");
    let mut total = 0u64;
    let mut num = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// Checks an output template: a known extension, known placeholders, and a path that stays
/// inside `root`.
fn check_output(text: &str, root: &Path, job: &Job) -> Result<OutputSpec, String> {
    let format = OutputFormat::from_path(text)?;
    // Placeholders in a path are plain `{name}` text.
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("unclosed '{{' in output path {text:?}"));
        };
        let name = &after[..close];
        if !job.knows(name) {
            return Err(format!(
                "unknown parameter {{{name}}} in output path {text:?}: built-ins are {{date}} and {{run_ts}}, or declare `-- param: {name} = <default>`"
            ));
        }
        rest = &after[close + 1..];
    }
    relative_to_root(Path::new(text), root).map_err(|why| {
        format!(
            "output {text:?} is outside the output root {}: {why}",
            root.display()
        )
    })?;
    Ok(OutputSpec {
        template: text.to_string(),
        format,
        line: 0,
    })
}

/// `path` as a path inside `root`: relative paths must not climb out (`..`), absolute paths
/// must start with `root`. Checked lexically (the folders need not exist yet).
pub fn relative_to_root(path: &Path, root: &Path) -> Result<PathBuf, String> {
    let rel = if path.is_absolute() {
        let root_abs = std::path::absolute(root).map_err(|e| e.to_string())?;
        path.strip_prefix(&root_abs)
            .map_err(|_| "an absolute output path must be inside the output root".to_string())?
            .to_path_buf()
    } else {
        path.to_path_buf()
    };
    let mut clean = PathBuf::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => clean.push(p),
            Component::CurDir => {}
            _ => return Err("'..' is not allowed in an output path".to_string()),
        }
    }
    if clean.as_os_str().is_empty() {
        return Err("the output path names no file".to_string());
    }
    Ok(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Job, String> {
        parse_job(Path::new("q/job.sql"), text, Path::new("/srv/out")).map_err(|e| e.to_string())
    }

    #[test]
    fn a_full_header() {
        let j = parse(
            "-- name: daily_rfm\n-- A description line: not a key because of the spaces.\n-- schedule: 0 3 * * *\n-- timezone: Asia/Shanghai\n-- output: rfm/dt={date}/segments.parquet\n-- mode: append\n-- timeout: 1h30m\n-- retries: 2\n-- catchup: all\n-- param: min_orders = 2\n\nSELECT {min_orders}, {date};\n",
        )
        .unwrap();
        assert_eq!(j.name, "daily_rfm");
        assert_eq!(j.schedule.as_ref().unwrap().text(), "0 3 * * *");
        assert_eq!(j.timezone.name(), "Asia/Shanghai");
        let out = j.output.unwrap();
        assert_eq!(out.template, "rfm/dt={date}/segments.parquet");
        assert_eq!(out.format, OutputFormat::Parquet);
        assert_eq!(j.mode, WriteMode::Append);
        assert_eq!(j.timeout, Duration::from_secs(5400));
        assert_eq!(j.retries, 2);
        assert_eq!(j.catch_up, CatchUp::All);
        assert_eq!(j.params, vec![("min_orders".into(), ParamValue::Int(2))]);
    }

    #[test]
    fn defaults_and_unscheduled_files() {
        let j = parse("-- name: x\nSELECT 1").unwrap();
        assert!(j.schedule.is_none() && j.output.is_none());
        assert_eq!(j.timeout, DEFAULT_TIMEOUT);
        assert_eq!(j.catch_up, CatchUp::Latest);
        let j = parse("SELECT 1 -- note: not a header").unwrap();
        assert_eq!(j.name, "job", "the file name");
    }

    #[test]
    fn bad_headers_name_file_and_line() {
        let cases = [
            (
                "-- name: a\n-- colour: red\nSELECT 1",
                2,
                "unknown header key \"colour\"",
            ),
            (
                "-- schedule: 0 3 * *\n-- output: a.csv\nSELECT 1",
                1,
                "expected 5 fields",
            ),
            (
                "-- schedule: 0 99 * * *\n-- output: a.csv\nSELECT 1",
                1,
                "invalid schedule",
            ),
            ("-- timezone: Moon/Base\nSELECT 1", 1, "unknown time zone"),
            (
                "\n-- output: ../a.csv\nSELECT 1",
                2,
                "outside the output root",
            ),
            (
                "-- output: /etc/a.csv\nSELECT 1",
                1,
                "outside the output root",
            ),
            ("-- output: a.xlsx\nSELECT 1", 1, ".parquet, .csv or .json"),
            (
                "-- output: x/{day}/a.csv\nSELECT 1",
                1,
                "unknown parameter {day}",
            ),
            ("-- schedule: @daily\nSELECT 1", 1, "needs an output"),
            (
                "-- schedule: @daily\n-- output: a.csv\nSELECT\n  {nope}",
                4,
                "unknown parameter {nope}",
            ),
            ("-- timeout: soon\nSELECT 1", 1, "invalid duration"),
            ("-- retries: 99\nSELECT 1", 1, "invalid retries"),
            ("-- mode: upsert\nSELECT 1", 1, "invalid mode"),
            ("-- name: a b\nSELECT 1", 1, "invalid job name"),
            ("-- name: a\n-- name: b\nSELECT 1", 2, "given twice"),
            ("-- param: date = 2026-01-01\nSELECT 1", 1, "built-in"),
        ];
        for (text, line, want) in cases {
            let e = parse(text).unwrap_err();
            assert!(
                e.starts_with(&format!("q/job.sql:{line}: ")) && e.contains(want),
                "{text:?}: want line {line} and {want:?} in {e}"
            );
        }
    }

    #[test]
    fn absolute_outputs_inside_the_root_are_fine() {
        let j = parse("-- output: /srv/out/a/b.json\nSELECT 1").unwrap();
        assert_eq!(j.output.unwrap().format, OutputFormat::Json);
        assert_eq!(
            relative_to_root(Path::new("/srv/out/a/./b.json"), Path::new("/srv/out")).unwrap(),
            PathBuf::from("a/b.json")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("45s").unwrap(), Duration::from_secs(45));
        assert_eq!(parse_duration("1d2h").unwrap(), Duration::from_secs(93_600));
        for bad in ["", "0s", "5", "5x", "m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
