//! Configuration as users see it through `barman`: discovery, multi-file configurations, the
//! resolved values `show-servers` prints, validation messages and exit codes.

use std::path::Path;

use barman_tests::TestContext;
use serde_json::Value;

/// Where `scripts/setup-interop` installs Barman 3.20.1 for the optional interoperability tier.
const PYTHON_BARMAN: &str = "/opt/barman-venv/bin/barman";

/// The OS user the tests run as: configurations name it as `barman_user` so no switch happens.
fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name
}

/// A `[barman]` section for the context, running as the current user.
fn global_section(ctx: &TestContext) -> String {
    format!(
        "[barman]\nbarman_home = {}\nbarman_user = {}\n",
        ctx.barman_home().display(),
        current_user()
    )
}

/// The multi-file configuration of the golden file: a main file with global defaults and
/// `configuration_files_directory`, plus one file per server.
fn write_multi_file_configuration(ctx: &TestContext) -> std::path::PathBuf {
    let root = ctx.root().display();
    ctx.write_file(
        "barman.d/pg.conf",
        "[pg]\ndescription = \"PostgreSQL 15 (streaming)\"\n\
         conninfo = host=127.0.0.1 port=1 user=barman dbname=postgres application_name=myapp\n\
         streaming_conninfo = host=127.0.0.1 port=1 user=streaming_barman\nbackup_method = postgres\n\
         streaming_archiver = on\nslot_name = barman\narchiver = on\nlast_backup_maximum_age = 1 week\n\
         compression_level = 9\n",
    );
    ctx.write_file(
        "barman.d/ssh-pg.conf",
        &format!(
            "[ssh-pg]\ndescription = 'PostgreSQL via rsync'\n\
             conninfo = host=127.0.0.1 port=1 user=barman dbname=postgres password=hunter2\n\
             ssh_command = ssh -o ConnectTimeout=1 -p 1 postgres@127.0.0.1\nbackup_method = rsync\n\
             backup_options = concurrent_backup\nreuse_backup = link\narchiver = on\ncompression = bzip2\n\
             backup_directory = {root}/barman/ssh-pg\nwals_directory = %(backup_directory)s/wal-archive\npath_prefix =\n"
        ),
    );
    ctx.write_config(&format!(
        "; Main configuration, as shipped in /etc/barman.conf\n[barman]\nbarman_home = {root}/barman\n\
         barman_user = {}\nconfiguration_files_directory = {root}/barman.d\nlog_file = {root}/log/barman.log\n\
         log_level = INFO\ncompression = gzip\nretention_policy = REDUNDANCY 2\nminimum_redundancy = 1\n\
         path_prefix = \"/usr/lib/postgresql/15/bin\"\nlast_wal_maximum_age = 6 hours\n",
        current_user()
    ))
}

/// Runs the built `barman -c CONFIG ARGS...` in the context.
fn run(ctx: &TestContext, config: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    ctx.barman().arg("-c").arg(config).args(args).assert()
}

fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

fn stderr_of(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}

/// A `conninfo` nobody listens on: commands that ask PostgreSQL fail fast, on loopback.
const UNREACHABLE: &str = "host=127.0.0.1 port=1 user=barman dbname=postgres";

/// The warning `show-servers` gives when a server's `conninfo` (as Barman writes it back,
/// password redacted) cannot be reached.
fn unreachable_warning(server: &str, dsn: &str) -> String {
    format!(
        "WARNING: server '{server}' (conninfo): cannot connect to PostgreSQL with '{dsn}': error connecting to \
         server: Connection refused (os error 111)\nHINT: is PostgreSQL running and listening on 127.0.0.1:1? \
         check listen_addresses and port\n"
    )
}

/// The golden file holds what Barman 3.20.1 prints for this configuration, whose PostgreSQL
/// cannot be reached (the live keys are those Barman keeps then, mostly `None`; the client
/// tools' version is the installed one), with two deliberate differences: option sets print as
/// a plain list instead of Python's `BackupOptions({...})`, and intervals as `6 hours` instead
/// of Python's `6:00:00`.
#[test]
fn show_servers_resolves_a_multi_file_configuration_as_barman_does() {
    let ctx = TestContext::new();
    let config = write_multi_file_configuration(&ctx);
    let assert = run(&ctx, &config, &["show-servers", "all"]).success();
    let expected = include_str!("golden/show-servers-multi-file.txt");
    let shown: Vec<String> = ctx
        .normalize(&stdout_of(&assert))
        .lines()
        .map(|line| match line.split_once("_version: ") {
            Some((key, _)) if key.starts_with("\tpg_") => format!("{key}_version: [CLIENT VERSION]"),
            _ => line.to_owned(),
        })
        .collect();
    assert_eq!(shown.join("\n") + "\n", expected);
    assert_eq!(
        stderr_of(&assert),
        unreachable_warning(
            "pg",
            "host=127.0.0.1 port=1 user=barman dbname=postgres application_name=myapp"
        ) + &unreachable_warning(
            "ssh-pg",
            "host=127.0.0.1 port=1 user=barman dbname=postgres password=*REDACTED*"
        )
    );
}

#[test]
fn list_servers_shows_descriptions_and_states() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "{}archiver = on\n[pg]\ndescription = Main\nconninfo = host=pg\nbackup_method = postgres\n\
         [old]\ndescription = Retired\nactive = false\n[broken]\ndescription = No conninfo\nbackup_method = postgres\n\
         [bare]\nconninfo = host=x\nbackup_method = postgres\n",
        global_section(&ctx)
    ));
    let assert = run(&ctx, &config, &["list-servers"]).success();
    assert_eq!(
        stdout_of(&assert),
        "bare\nbroken - No conninfo (WARNING: disabled)\nold - Retired (inactive)\npg - Main\n"
    );
    let assert = run(&ctx, &config, &["list-servers", "--minimal"]).success();
    assert_eq!(stdout_of(&assert), "bare\nbroken\nold\npg\n");
    let assert = run(&ctx, &config, &["-f", "json", "list-servers"]).success();
    let json: Value = serde_json::from_str(&stdout_of(&assert)).unwrap();
    assert_eq!(json["pg"]["description"], "Main");
    assert_eq!(json["old"]["description"], "Retired (inactive)");
}

#[test]
fn configuration_is_found_through_env_then_home() {
    let ctx = TestContext::new();
    let body = format!(
        "{}[from_env]\nconninfo = host=x\nbackup_method = postgres\narchiver = on\n",
        global_section(&ctx)
    );
    let env_file = ctx.write_file("env.conf", &body);
    ctx.write_file("home/.barman.conf", &body.replace("from_env", "from_home"));
    let assert = ctx
        .barman()
        .env("BARMAN_CONFIG_FILE", &env_file)
        .arg("list-servers")
        .assert()
        .success();
    assert_eq!(stdout_of(&assert), "from_env\n");
    let assert = ctx.barman().arg("list-servers").assert().success();
    assert_eq!(stdout_of(&assert), "from_home\n");
}

#[test]
fn missing_or_invalid_configuration_files_stop_with_a_hint() {
    let ctx = TestContext::new();
    let missing = ctx.root().join("nope.conf");
    let assert = run(&ctx, &missing, &["list-servers"]).code(1);
    assert_eq!(
        ctx.normalize(&stderr_of(&assert)),
        "ERROR: Configuration file '[TEMP]/nope.conf' does not exist\n\
         HINT: check the path given with -c/--config or BARMAN_CONFIG_FILE\n"
    );

    let no_home = ctx.write_config(&format!("[barman]\nbarman_user = {}\n", current_user()));
    let assert = run(&ctx, &no_home, &["list-servers"]).code(1);
    assert_eq!(
        ctx.normalize(&stderr_of(&assert)),
        "ERROR: Parameter \"barman_home\" is required in [barman] section.\n\
         HINT: add 'barman_home = /var/lib/barman' (or another directory) to the [barman] section of [TEMP]/barman.conf\n"
    );

    let syntax = ctx.write_config("[barman]\nbarman_home = /x\njust words\n");
    let assert = run(&ctx, &syntax, &["list-servers"]).code(1);
    assert!(ctx
        .normalize(&stderr_of(&assert))
        .starts_with("ERROR: configuration file '[TEMP]/barman.conf' is not valid INI at line"));
}

#[test]
fn reserved_names_and_global_sections_in_included_files_are_fatal() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!("{}[all]\nconninfo = host=x\n", global_section(&ctx)));
    let assert = run(&ctx, &config, &["list-servers"]).code(1);
    assert!(stderr_of(&assert)
        .starts_with("FATAL: the reserved word 'all' is not allowed as server name.Please rename it.\n"));

    ctx.write_file("conf.d/extra.conf", "[barman]\ncompression = gzip\n");
    let config = ctx.write_config(&format!(
        "{}configuration_files_directory = {}\n",
        global_section(&ctx),
        ctx.root().join("conf.d").display()
    ));
    let assert = run(&ctx, &config, &["list-servers"]).code(1);
    assert!(stderr_of(&assert)
        .starts_with("FATAL: the configuration file extra.conf contains a not empty [barman] section\n"));
}

#[test]
fn invalid_values_and_unknown_options_are_warned_and_do_not_fail() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "{}compresion = gzip\n[pg]\nconninfo = {UNREACHABLE}\nbackup_method = postgres\narchiver = maybe\n\
         streaming_archiver = on\nslot_name = ok\ncheck_timeout = soon\n",
        global_section(&ctx)
    ));
    let assert = run(&ctx, &config, &["show-servers", "pg"]).success();
    assert_eq!(
        ctx.normalize(&stderr_of(&assert)),
        "WARNING: Invalid configuration option \"compresion\" in [barman] section of [TEMP]/barman.conf. (did you mean \"compression\"?)\n\
         WARNING: Ignoring invalid configuration value 'maybe' for key archiver in [pg] section of [TEMP]/barman.conf: \
         Invalid boolean representation (must be one in: true|t|yes|1|on | false|f|no|0|off)\n\
         WARNING: Ignoring invalid configuration value 'soon' for key check_timeout in [pg] section of [TEMP]/barman.conf: \
         'soon' is not an integer\n"
            .to_owned()
            + &unreachable_warning("pg", UNREACHABLE)
    );
    let out = stdout_of(&assert);
    assert!(
        out.contains("\tarchiver: False\n") && out.contains("\tcheck_timeout: 30\n"),
        "{out}"
    );
}

#[test]
fn unknown_servers_and_misused_all_are_errors() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "{}[pg]\nconninfo = {UNREACHABLE}\nbackup_method = postgres\narchiver = on\n",
        global_section(&ctx)
    ));
    let assert = run(&ctx, &config, &["show-servers", "nope"]).code(1);
    assert_eq!(
        stderr_of(&assert),
        "ERROR: Unknown server 'nope'\nHINT: 'barman list-servers' shows the configured servers\n"
    );
    let assert = run(&ctx, &config, &["show-servers", "all", "pg"]).code(1);
    assert_eq!(
        stderr_of(&assert),
        "ERROR: You cannot use 'all' with other server names\n".to_owned() + &unreachable_warning("pg", UNREACHABLE)
    );
}

#[test]
fn directories_shared_by_two_servers_stop_every_command() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "{}archiver = on\nbackup_method = postgres\n[a]\nconninfo = host=a\n[b]\nconninfo = host=b\nincoming_wals_directory = {}/a/incoming\n",
        global_section(&ctx),
        ctx.barman_home().display()
    ));
    let assert = run(&ctx, &config, &["list-servers"]).code(1);
    assert_eq!(stdout_of(&assert), "");
    assert_eq!(
        ctx.normalize(&stderr_of(&assert)),
        "ERROR: Conflicting path: incoming_wals_directory=[TEMP]/barman/a/incoming for server 'b' conflicts with \
         'incoming_wals_directory' for server 'a'\n"
    );
}

#[test]
fn sub_commands_not_implemented_yet_say_so_and_unknown_ones_are_usage_errors() {
    let ctx = TestContext::new();
    let assert = ctx.barman().args(["backup", "pg"]).assert().code(1);
    assert_eq!(
        stderr_of(&assert),
        "ERROR: the 'backup' sub-command is not implemented yet in this release\n"
    );
    let assert = ctx.barman().arg("bakup").assert().code(2);
    assert!(stderr_of(&assert).contains("invalid choice: 'bakup'"));
    let assert = ctx.barman().args(["list-servers", "--bogus"]).assert().code(2);
    assert!(stderr_of(&assert).contains("--bogus"));
    let assert = ctx.barman().arg("-v").assert().success();
    assert!(stdout_of(&assert).starts_with(env!("CARGO_PKG_VERSION")));
}

#[test]
fn log_file_uses_barman_format_and_redacts_passwords() {
    let ctx = TestContext::new();
    let log = ctx.root().join("log/barman.log");
    let config = ctx.write_config(&format!(
        "{}log_file = {}\n[pg]\nconninfo = {UNREACHABLE} password=hunter2\nbackup_method = postgres\narchiver = on\nbogus = 1\n",
        global_section(&ctx),
        log.display()
    ));
    let assert = run(&ctx, &config, &["show-servers", "pg"]).success();
    assert!(stdout_of(&assert).contains(&format!("\tconninfo: {UNREACHABLE} password=*REDACTED*\n")));
    let logged = std::fs::read_to_string(&log).unwrap();
    let line = logged
        .lines()
        .find(|l| l.contains("bogus"))
        .expect("the warning is logged");
    let after_stamp = &line[23..];
    assert!(
        after_stamp.starts_with(" [")
            && after_stamp.contains("] barman.output WARNING: Invalid configuration option \"bogus\""),
        "{line}"
    );
    assert!(!logged.contains("hunter2"), "{logged}");
}

#[test]
fn diagnose_reports_configuration_and_disabled_reasons_as_json() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "{}[pg]\nconninfo = {UNREACHABLE} password=hunter2\nbackup_method = postgres\narchiver = on\n\
         [nossh]\nconninfo = {UNREACHABLE}\narchiver = on\n",
        global_section(&ctx)
    ));
    let assert = run(&ctx, &config, &["diagnose", "--show-config-source"]).success();
    let out = stdout_of(&assert);
    assert!(!out.contains("hunter2"));
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        json["servers"]["pg"]["config"]["conninfo"]["value"],
        format!("{UNREACHABLE} password=*REDACTED*")
    );
    assert_eq!(json["servers"]["pg"]["config"]["check_timeout"]["source"], "default");
    let status = json["servers"]["pg"]["status"].as_object().unwrap();
    assert_eq!(
        status["server_txt_version"],
        Value::Null,
        "unreachable: Barman's keys, all null"
    );
    assert_eq!(status["archive_mode"], Value::Null);
    assert_eq!(
        json["servers"]["nossh"]["msg_list"][0],
        "Missing or invalid ssh_command in barman configuration for server nossh"
    );
    assert_eq!(json["global"]["config"]["errors_list"], Value::Array(vec![]));
    assert_eq!(
        json["global"]["config"]["barman_home"]["value"],
        ctx.barman_home().display().to_string()
    );
}

#[test]
fn unknown_barman_user_is_refused() {
    let ctx = TestContext::new();
    let config = ctx.write_config(&format!(
        "[barman]\nbarman_home = {}\nbarman_user = no_such_user_x\n",
        ctx.barman_home().display()
    ));
    let assert = run(&ctx, &config, &["list-servers"]).code(1);
    assert_eq!(
        stderr_of(&assert),
        "ERROR: the configured user 'no_such_user_x' does not exists\n\
         HINT: create the OS user 'no_such_user_x' or set barman_user in the [barman] section\n"
    );
}

/// Started as root, barman works as `barman_user`: what it creates belongs to that user.
#[test]
fn root_drops_privileges_to_barman_user() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: privilege drop needs the tests to run as root");
        return;
    }
    let ctx = TestContext::new();
    let user = nix::unistd::User::from_name("postgres")
        .unwrap()
        .expect("the postgres OS user exists");
    let log_dir = ctx.root().join("logs");
    std::fs::create_dir(&log_dir).unwrap();
    nix::unistd::chown(&log_dir, Some(user.uid), Some(user.gid)).unwrap();
    let config = ctx.write_config(&format!(
        "[barman]\nbarman_home = {}\nbarman_user = postgres\nlog_file = {}/barman.log\n",
        ctx.barman_home().display(),
        log_dir.display()
    ));
    run(&ctx, &config, &["list-servers"]).success();
    let owner = std::fs::metadata(Path::new(&log_dir).join("barman.log")).unwrap().uid();
    assert_eq!(owner, user.uid.as_raw());
}

/// Optional tier: Barman 3.20.1 itself resolves the same files to the same values, live keys of
/// the unreachable servers included (interval and option-set renderings are documented
/// differences, and a password is left out because Barman's redaction swallows the next line).
#[test]
fn show_servers_matches_python_barman_when_installed() {
    let python_barman = Path::new(PYTHON_BARMAN);
    if !python_barman.exists() {
        eprintln!("skipped: Barman 3.20.1 not installed at {PYTHON_BARMAN} (scripts/setup-interop installs it)");
        return;
    }
    let ctx = TestContext::new();
    let config = write_multi_file_configuration(&ctx);
    let ssh_pg = ctx.root().join("barman.d/ssh-pg.conf");
    let text = std::fs::read_to_string(&ssh_pg)
        .unwrap()
        .replace(" password=hunter2", "");
    std::fs::write(&ssh_pg, text).unwrap();
    let ours = stdout_of(&run(&ctx, &config, &["show-servers", "all"]).success());
    let theirs = stdout_of(
        &ctx.command(python_barman)
            .arg("-c")
            .arg(&config)
            .args(["show-servers", "all"])
            .assert()
            .success(),
    );
    let comparable = |line: &&str| {
        !["last_wal_maximum_age", "backup_options", "recovery_options"]
            .iter()
            .any(|key| line.starts_with(&format!("\t{key}:")))
    };
    let our_keys: Vec<&str> = ours.lines().map(|l| l.split(':').next().unwrap()).collect();
    let ours: Vec<&str> = ours.lines().filter(comparable).collect();
    let theirs: Vec<&str> = theirs
        .lines()
        .filter(|l| our_keys.contains(&l.split(':').next().unwrap()))
        .filter(comparable)
        .collect();
    assert!(ours.len() > 200, "both servers' options are compared: {ours:?}");
    assert_eq!(ours, theirs);
}
