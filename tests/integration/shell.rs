//! The shell: non-interactive `sql -c/-f`/stdin, exit codes and one-line errors, and the
//! interactive shell driven through a pseudo-terminal.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::fixture::{shop, temp_dir};

fn ecomsql(args: &[&str], stdin: Option<&str>) -> Output {
    let state = temp_dir("state");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomsql"));
    cmd.arg("--data")
        .arg(shop())
        .arg("--state-dir")
        .arg(state.path())
        .args(args);
    cmd.env_remove("ECOMSQL_DATA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn ecomsql");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    child.wait_with_output().expect("wait")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn sql_command_answers_with_a_table_and_summary() {
    let out = ecomsql(
        &[
            "sql",
            "-c",
            "SELECT event_type, count(*) AS n FROM events GROUP BY 1 ORDER BY 1;",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    for t in [
        "add_to_cart",
        "begin_checkout",
        "purchase",
        "remove_from_cart",
        "search",
        "view",
    ] {
        assert!(stdout.contains(t), "{stdout}");
    }
    assert!(stdout.contains("6 rows in "), "{stdout}");
}

#[test]
fn formats_and_row_cap() {
    let out = ecomsql(
        &[
            "--format",
            "csv",
            "sql",
            "-c",
            "SELECT user_id, country FROM users ORDER BY user_id LIMIT 3",
        ],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("user_id,country\n1,"), "{stdout}");
    assert_eq!(stdout.lines().count(), 4);
    let out = ecomsql(
        &[
            "--format",
            "ndjson",
            "sql",
            "-c",
            "SELECT 1 AS a UNION ALL SELECT 2",
        ],
        None,
    );
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let out = ecomsql(&["--format", "json", "sql", "-c", "SELECT 1 AS a"], None);
    assert_eq!(
        text(&out.stdout).split_whitespace().collect::<String>(),
        "[{\"a\":1}]"
    );
    let out = ecomsql(
        &["--max-rows", "5", "sql", "-c", "SELECT * FROM users"],
        None,
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("2000 rows (first 5 shown"), "{stdout}");
}

#[test]
fn errors_are_one_line_and_exit_non_zero() {
    for (sql, needle) in [
        ("SELEC 1", "SELEC"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT hash_split(1.5)", "hash_split"),
        ("SELECT hash_split('a', 'b')", "seed"),
    ] {
        let out = ecomsql(&["sql", "-c", sql], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{sql}: {stderr}");
        assert!(
            stderr.starts_with("Error: ") && stderr.contains(needle),
            "{sql}: {stderr}"
        );
        assert_eq!(stderr.trim_end().lines().count(), 1, "{sql}: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("backtrace"),
            "{stderr}"
        );
    }
}

#[test]
fn files_stdin_and_backslash_commands() {
    let dir = temp_dir("script");
    let file = dir.path().join("q.sql");
    std::fs::write(&file, "-- two statements\nCREATE VIEW buyers AS SELECT DISTINCT user_id FROM orders;\nSELECT count(*) > 0 AS ok FROM buyers;\n").expect("write");
    let out = ecomsql(&["sql", "-f", file.to_str().expect("utf8")], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("true"));
    let out = ecomsql(
        &["sql"],
        Some("SELECT 40 + 2 AS answer;\n\\d\n\\h hash_split\n"),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("42") && stdout.contains("events") && stdout.contains("XXH64"),
        "{stdout}"
    );
    let out = ecomsql(&["sql"], Some("SELECT 1;\nSELECT nope;\nSELECT 3;\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("statement 2 of 3"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stdout).contains("| 3 "),
        "must stop at the first error"
    );
    let out = ecomsql(&["sql", "-c", "\\nope"], None);
    assert!(text(&out.stderr).contains("unknown command"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        &["--help"][..],
        &["sql", "--help"],
        &["gen", "--help"],
        &["repl", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_ecomsql"))
            .args(sub)
            .output()
            .expect("run");
        assert!(out.status.success());
        assert!(text(&out.stdout).contains("Usage"), "{sub:?}");
    }
}

/// The interactive shell on the test shop in a pseudo-terminal (no colours, a real TERM so
/// rustyline edits and completes).
fn spawn_shell(state: &std::path::Path) -> rexpect::session::PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomsql"));
    cmd.arg("--data")
        .arg(shop())
        .arg("--state-dir")
        .arg(state)
        .env("NO_COLOR", "1")
        .env("TERM", "xterm");
    rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty")
}

#[test]
fn interactive_shell_through_a_pty() {
    let state = temp_dir("pty");
    let mut p = spawn_shell(state.path());
    // Input typed before the shell is back at its prompt may be flushed by the terminal mode
    // switch, as with any line editor, so every step waits for the prompt first.
    let prompt = |p: &mut rexpect::session::PtySession| p.exp_string("ecomsql> ").expect("prompt");
    prompt(&mut p);
    // Multi-line input runs at the ';'.
    p.send_line("SELECT 40 + 2").expect("send");
    p.send_line("  AS answer;").expect("send");
    p.exp_string("42").expect("answer");
    p.exp_string("1 row in").expect("summary");
    prompt(&mut p);
    p.send_line("\\d").expect("send");
    p.exp_string("events").expect("tables");
    prompt(&mut p);
    // Tab completes table names.
    p.send("SELECT count(*) AS n FROM campai").expect("send");
    p.send("\t").expect("tab");
    p.send_line(";").expect("send");
    p.exp_string("1 row in").expect("completed query ran");
    prompt(&mut p);
    p.send_line("SELECT nope;").expect("send");
    p.exp_string("Error:").expect("error line");
    prompt(&mut p);
    // Ctrl-C at the prompt does not end the shell.
    p.send_control('c').expect("ctrl-c");
    prompt(&mut p);
    p.send_line("\\timing").expect("send");
    p.exp_string("Timing is on")
        .expect("still alive after Ctrl-C");
    prompt(&mut p);
    p.send_line("\\q").expect("quit");
    p.exp_eof().expect("exit");
    let history = std::fs::read_to_string(state.path().join("history.txt")).unwrap_or_default();
    assert!(
        history.contains("AS answer;"),
        "history not saved: {history:?}"
    );
}

#[test]
fn ctrl_c_cancels_a_running_query_but_not_the_shell() {
    let state = temp_dir("cancel");
    let mut p = spawn_shell(state.path());
    p.exp_string("ecomsql>").expect("prompt");
    // A cross join of the events with themselves: hours of work.
    p.send_line("SELECT count(*) FROM events a, events b WHERE a.user_id + b.user_id < 0;")
        .expect("send");
    // After a second the live progress line appears.
    p.exp_string("Ctrl-C to cancel").expect("progress line");
    p.send_control('c').expect("ctrl-c");
    p.exp_string("query cancelled").expect("cancelled");
    p.exp_string("ecomsql> ").expect("prompt");
    p.send_line("SELECT 6 * 7 AS still_here;").expect("send");
    p.exp_string("42").expect("shell still answers");
    p.exp_string("ecomsql> ").expect("prompt");
    p.send_control('d').expect("ctrl-d");
    p.exp_eof().expect("Ctrl-D quits");
}

#[test]
fn memory_limit_spills_sorts_to_disk() {
    let sql = "SELECT count(*) AS n FROM events";
    let total = text(&ecomsql(&["--format", "csv", "sql", "-c", sql], None).stdout);
    let total: usize = total
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("count");
    // The sort needs several times the pool: it must spill, not fail.
    let out = ecomsql(
        &[
            "--memory-limit",
            "4MB",
            "--target-partitions",
            "1",
            "--format",
            "csv",
            "sql",
            "-c",
            "SELECT event_id, search_query, ts FROM events ORDER BY search_query, ts, event_id",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), total + 1);
    // With the default 16 partitions too. DataFusion's default pool and a 10 MiB merge
    // reservation per partition failed both of these even at 64 MB (the reservations alone
    // exceeded the pool), although the events are 5 MB.
    let sorted =
        "SELECT event_id, search_query, ts FROM events ORDER BY search_query, ts, event_id";
    let limited = |sql: &str| {
        ecomsql(
            &[
                "--memory-limit",
                "64MB",
                "--format",
                "csv",
                "sql",
                "-c",
                sql,
            ],
            None,
        )
    };
    let out = limited(sorted);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), total + 1);
    let sessions = "SELECT count(*), sum(s) FROM (SELECT sessionize(ts, INTERVAL '30 minutes') \
                    OVER (PARTITION BY user_id ORDER BY ts) AS s FROM events)";
    let unlimited = ecomsql(&["--format", "csv", "sql", "-c", sessions], None);
    let out = limited(sessions);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), text(&unlimited.stdout));
    let out = ecomsql(&["--memory-limit", "lots", "sql", "-c", "SELECT 1"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("memory_limit"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn config_file_env_and_flags_stack() {
    let dir = temp_dir("config");
    std::fs::write(
        dir.path().join("ecomsql.toml"),
        format!(
            "data_dir = {:?}\nformat = \"csv\"\nmax_rows = 3\n",
            shop().display().to_string()
        ),
    )
    .expect("write config");
    let run = |envs: &[(&str, &str)], args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ecomsql"));
        cmd.current_dir(dir.path())
            .env_remove("ECOMSQL_DATA")
            .env_remove("ECOMSQL_FORMAT");
        for (k, v) in envs {
            cmd.env(k, v);
        }
        cmd.args(args)
            .args(["sql", "-c", "SELECT count(*) AS n FROM users"])
            .output()
            .expect("run")
    };
    // The file: data directory and CSV.
    let out = run(&[], &[]);
    assert_eq!(text(&out.stdout), "n\n2000\n", "{}", text(&out.stderr));
    // The environment overrides the file.
    let out = run(&[("ECOMSQL_FORMAT", "ndjson")], &[]);
    assert_eq!(text(&out.stdout), "{\"n\":2000}\n");
    // Flags override both.
    let out = run(&[("ECOMSQL_FORMAT", "ndjson")], &["--format", "table"]);
    assert!(
        text(&out.stdout).contains("1 row in"),
        "{}",
        text(&out.stdout)
    );
    // A bad file is a clear error naming it.
    std::fs::write(dir.path().join("ecomsql.toml"), "colour = 1\n").expect("write");
    let out = run(&[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("ecomsql.toml") && text(&out.stderr).contains("colour"),
        "{}",
        text(&out.stderr)
    );
}
