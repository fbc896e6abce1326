//! Behaviour of configuration loading as a whole: discovery, includes, inheritance, defaults,
//! interpolation and validation, each against files written to a temporary directory.

use super::*;
use std::fs;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, text.replace("[TEMP]", &self.dir.path().display().to_string())).unwrap();
        path
    }

    fn load(&self, main: &str) -> Result<Config, ConfigError> {
        let path = self.write("barman.conf", main);
        Config::load(&Discovery {
            explicit: Some(path),
            from_env: None,
            home: Some(self.path("home")),
        })
    }

    fn loaded(&self, main: &str) -> Config {
        self.load(main).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn shown(server: &ServerConfig, key: &str) -> String {
    server.get(key).map_or_else(|| "None".into(), ToString::to_string)
}

fn warnings(config: &Config) -> Vec<String> {
    config.diagnostics().iter().map(|d| d.message.clone()).collect()
}

#[test]
fn discovery_prefers_option_then_environment_then_defaults_in_order() {
    let fx = Fixture::new();
    let explicit = fx.write("explicit.conf", "");
    let env = fx.write("env.conf", "");
    let home_conf = fx.write("home/.barman.conf", "");
    let home = Some(fx.path("home"));
    let found = |explicit: Option<&PathBuf>, env: Option<&PathBuf>| {
        discover_main_file(&Discovery {
            explicit: explicit.cloned(),
            from_env: env.cloned(),
            home: home.clone(),
        })
        .unwrap()
    };
    assert_eq!(found(Some(&explicit), Some(&env)), explicit);
    assert_eq!(found(None, Some(&env)), env);
    assert_eq!(found(None, None), home_conf);
}

#[test]
fn discovery_errors_name_the_missing_file() {
    let fx = Fixture::new();
    let missing = fx.path("nope.conf");
    let err = discover_main_file(&Discovery {
        explicit: Some(missing.clone()),
        from_env: None,
        home: None,
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("Configuration file '{}' does not exist", missing.display())
    );
    let err = discover_main_file(&Discovery {
        explicit: None,
        from_env: Some(missing),
        home: None,
    })
    .unwrap_err();
    assert!(matches!(err, ConfigError::FileNotFound { .. }));
}

#[test]
fn defaults_are_templates_over_barman_home_and_name() {
    let fx = Fixture::new();
    let config = fx.loaded("[barman]\nbarman_home = /srv/barman\n[pg]\nconninfo = host=pg\narchiver = on\n");
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "backup_directory"), "/srv/barman/pg");
    assert_eq!(shown(pg, "incoming_wals_directory"), "/srv/barman/pg/incoming");
    assert_eq!(shown(pg, "xlogdb_directory"), "/srv/barman/pg/wals");
    assert_eq!(shown(pg, "streaming_conninfo"), "host=pg");
    assert_eq!(shown(pg, "cluster"), "pg");
    assert_eq!(shown(pg, "compression_level"), "medium");
    assert_eq!(shown(pg, "check_timeout"), "30");
    assert_eq!(shown(pg, "wal_retention_policy"), "MAIN");
    assert_eq!(shown(pg, "encryption"), "None");
    assert_eq!(config.global().barman_user, "barman");
    assert_eq!(config.global().barman_lock_directory, Path::new("/srv/barman"));
}

#[test]
fn global_options_are_inherited_only_when_allowed() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\ncompression = gzip\nkeepalive_interval = 5\nconninfo = host=global\n\
         description = global\n[pg]\nconninfo = host=pg\narchiver = on\n[other]\nconninfo = host=o\ncompression = xz\narchiver = on\n",
    );
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "compression"), "gzip");
    assert_eq!(
        shown(pg, "keepalive_interval"),
        "60",
        "Barman never inherited keepalive_interval"
    );
    assert_eq!(shown(pg, "description"), "None");
    assert_eq!(pg.source("compression"), Some(fx.path("barman.conf").as_path()));
    assert_eq!(pg.source("check_timeout"), None);
    assert_eq!(shown(config.server("other").unwrap(), "compression"), "xz");
    assert!(warnings(&config).is_empty(), "{:?}", warnings(&config));
}

#[test]
fn empty_text_value_blocks_inheritance_and_default() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\npath_prefix = /usr/lib/postgresql/15/bin\n[pg]\nconninfo = host=pg\narchiver = on\n\
         path_prefix =\nstreaming_conninfo = None\nlast_backup_maximum_age =\n",
    );
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "path_prefix"), "None");
    assert_eq!(shown(pg, "streaming_conninfo"), "None");
    assert_eq!(shown(pg, "last_backup_maximum_age"), "None");
}

#[test]
fn interpolation_reaches_resolved_values_same_section_and_default_section() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[DEFAULT]\nroot = /data\n[barman]\nbarman_home = %(root)s/barman\n[pg]\nhost = pg1\n\
         conninfo = host=%(host)s user=barman\nwals_directory = %(backup_directory)s/archive\n\
         description = \"%(name)s on %(host)s, 100%% \"\narchiver = on\n",
    );
    assert_eq!(config.global().barman_home, Path::new("/data/barman"));
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "conninfo"), "host=pg1 user=barman");
    assert_eq!(shown(pg, "wals_directory"), "/data/barman/pg/archive");
    assert_eq!(shown(pg, "xlogdb_directory"), "/data/barman/pg/archive");
    assert_eq!(shown(pg, "description"), "pg on pg1, 100% ");
    // `host` and `root` are not options: Barman warns about them but they still interpolate.
    assert_eq!(
        warnings(&config),
        [
            format!(
                "Invalid configuration option \"root\" in [barman] section of {}.",
                fx.path("barman.conf").display()
            ),
            format!(
                "Invalid configuration option \"host\" in [pg] section of {}.",
                fx.path("barman.conf").display()
            ),
            format!(
                "Invalid configuration option \"root\" in [pg] section of {}.",
                fx.path("barman.conf").display()
            )
        ]
    );
}

#[test]
fn broken_interpolation_is_reported_and_the_value_falls_back() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\n[pg]\nconninfo = host=pg\narchiver = on\nbackup_directory = %(nowhere)s/pg\n",
    );
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "backup_directory"), "/b/pg");
    let file = fx.path("barman.conf").display().to_string();
    assert_eq!(
        warnings(&config),
        [format!("Ignoring invalid configuration value '%(nowhere)s/pg' for key backup_directory in [pg] section of {file}: '%(nowhere)s' refers to an option that is not set (write '%%' for a literal '%')")]
    );
}

#[test]
fn typed_values_are_parsed_and_invalid_ones_warned_and_defaulted() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\nretention_policy = redundancy 3\ncheck_timeout = 10\n[pg]\nconninfo = host=pg\n\
         archiver = yes\nlast_backup_minimum_size = 10Mi\nlast_wal_maximum_age = 2 hours\nslot_name = Barman_1\n\
         check_timeout = soon\nminimum_redundancy = -x\nbackup_method = tape\n",
    );
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "archiver"), "True");
    assert_eq!(shown(pg, "last_backup_minimum_size"), "10485760");
    assert_eq!(shown(pg, "last_wal_maximum_age"), "2 hours");
    assert_eq!(shown(pg, "slot_name"), "barman_1");
    assert_eq!(shown(pg, "retention_policy"), "REDUNDANCY 3");
    assert_eq!(shown(pg, "check_timeout"), "10", "falls back to the [barman] value");
    assert_eq!(shown(pg, "minimum_redundancy"), "0");
    assert_eq!(shown(pg, "backup_method"), "rsync");
    assert!(pg.has_invalid_value("check_timeout"));
    assert!(!pg.has_invalid_value("retention_policy"));
    let file = fx.path("barman.conf").display().to_string();
    assert_eq!(
        warnings(&config),
        [
            format!("Ignoring invalid configuration value 'tape' for key backup_method in [pg] section of {file}: 'tape' is not one of: rsync, postgres, local-rsync, snapshot, local-to-cloud"),
            format!("Ignoring invalid configuration value 'soon' for key check_timeout in [pg] section of {file}: 'soon' is not an integer"),
            format!("Ignoring invalid configuration value '-x' for key minimum_redundancy in [pg] section of {file}: '-x' is not an integer"),
        ]
    );
}

#[test]
fn unknown_options_are_warned_with_file_section_and_a_suggestion() {
    let fx = Fixture::new();
    let config = fx
        .loaded("[barman]\nbarman_home = /b\narchivr = on\n[pg]\nconninfo = host=pg\narchiver = on\nbarman_user = x\n");
    let file = fx.path("barman.conf").display().to_string();
    assert_eq!(
        warnings(&config),
        [
            format!("Invalid configuration option \"archivr\" in [barman] section of {file}. (did you mean \"archiver\"?)"),
            format!("Invalid configuration option \"barman_user\" in [pg] section of {file}. (it is only valid in the [barman] section)"),
        ]
    );
}

#[test]
fn included_files_are_read_in_sorted_order_and_auto_conf_last() {
    let fx = Fixture::new();
    fx.write(
        "conf.d/20-pg.conf",
        "[pg]\ndescription = from 20\nconninfo = host=pg\narchiver = on\n",
    );
    fx.write("conf.d/10-pg.conf", "[pg]\ndescription = from 10\n");
    fx.write("conf.d/ignored.txt", "[ignored]\nconninfo = x\n");
    fx.write("home-b/.barman.auto.conf", "[pg]\ncompression = zstd\n");
    let config = fx.loaded("[barman]\nbarman_home = [TEMP]/home-b\nconfiguration_files_directory = [TEMP]/conf.d\n");
    let names: Vec<_> = config.servers().iter().map(ServerConfig::name).collect();
    assert_eq!(names, ["pg"]);
    let pg = config.server("pg").unwrap();
    assert_eq!(shown(pg, "description"), "from 20");
    assert_eq!(pg.source("description"), Some(fx.path("conf.d/20-pg.conf").as_path()));
    assert_eq!(shown(pg, "compression"), "zstd");
}

#[test]
fn included_file_must_not_change_the_global_section() {
    let fx = Fixture::new();
    fx.write("conf.d/pg.conf", "[barman]\nlog_level = DEBUG\n");
    let err = fx
        .load("[barman]\nbarman_home = /b\nconfiguration_files_directory = [TEMP]/conf.d\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the configuration file pg.conf contains a not empty [barman] section"
    );
    assert!(err.is_fatal());
}

#[test]
fn missing_barman_home_and_reserved_names_stop_loading() {
    let fx = Fixture::new();
    let err = fx.load("[barman]\nbarman_user = barman\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "Parameter \"barman_home\" is required in [barman] section."
    );
    assert!(err.hint().contains("barman_home = /var/lib/barman"));
    let err = fx
        .load("[barman]\nbarman_home = /b\n[all]\nconninfo = x\n")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the reserved word 'all' is not allowed as server name.Please rename it."
    );
}

#[test]
fn syntax_errors_stop_loading_with_file_and_line() {
    let fx = Fixture::new();
    let err = fx.load("[barman]\nbarman_home = /b\n[pg\n").unwrap_err();
    let ConfigError::Syntax { path, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(path, &fx.path("barman.conf"));
}

#[test]
fn directories_shared_inside_a_server_disable_it() {
    let fx = Fixture::new();
    let config = fx.loaded("[barman]\nbarman_home = /b\n[pg]\nconninfo = host=pg\nbackup_method = postgres\narchiver = on\nwals_directory = /b/pg/incoming\n");
    let pg = config.server("pg").unwrap();
    assert!(pg.disabled());
    assert_eq!(
        pg.disabled_reasons(),
        ["Conflicting path: wals_directory=/b/pg/incoming conflicts with 'incoming_wals_directory' for server 'pg'"]
    );
    assert!(config.global_errors().is_empty());
}

#[test]
fn directories_shared_between_servers_are_global_errors() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\n[pg]\nconninfo = host=pg\narchiver = on\n[other]\nconninfo = host=o\narchiver = on\nbackup_directory = /b/pg\n",
    );
    assert_eq!(config.global_errors().len(), 6);
    assert_eq!(
        config.global_errors()[0],
        "Conflicting path: backup_directory=/b/pg for server 'pg' conflicts with 'backup_directory' for server 'other'"
    );
}

#[test]
fn server_rules_disable_or_adjust_as_barman_does() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\n\
         [noconn]\nbackup_method = postgres\narchiver = on\n\
         [rsync_no_ssh]\nconninfo = host=x\narchiver = on\n\
         [rsync_default]\nconninfo = host=x\nssh_command = ssh pg\n\
         [pg_reuse]\nconninfo = host=x\nbackup_method = postgres\nreuse_backup = link\narchiver = on\n\
         [stream_only]\nconninfo = host=x\nbackup_method = postgres\nstreaming_archiver = on\n\
         [sleeping]\nactive = false\n",
    );
    let reasons = |name: &str| config.server(name).unwrap().disabled_reasons().to_vec();
    assert_eq!(
        reasons("noconn"),
        [
            "PostgreSQL connection: Missing 'conninfo' parameter for server 'noconn'",
            "Streaming connection: Missing 'streaming_conninfo' parameter for server 'noconn'"
        ]
    );
    assert_eq!(
        reasons("rsync_no_ssh"),
        ["Missing or invalid ssh_command in barman configuration for server rsync_no_ssh"]
    );
    assert_eq!(
        reasons("pg_reuse"),
        ["reuse_backup option is not supported by postgres backup_method"]
    );
    assert_eq!(
        reasons("stream_only"),
        ["Streaming-only archiver requires 'streaming_conninfo' and 'slot_name' options to be properly configured"]
    );
    assert!(reasons("sleeping").is_empty(), "inactive servers are not checked");
    let rsync = config.server("rsync_default").unwrap();
    assert!(!rsync.disabled());
    assert!(rsync.archiver(), "archiver is forced on when no archiver is enabled");
    assert_eq!(rsync.backup_options(), ["concurrent_backup"]);
    assert_eq!(
        rsync.usage_warnings(),
        [
            "No backup strategy set for server 'rsync_default' (using default 'concurrent_backup').",
            "No archiver enabled for server 'rsync_default'. Please turn on 'archiver', 'streaming_archiver' or both",
            "Forcing 'archiver = on'",
        ]
    );
}

#[test]
fn model_sections_are_not_servers() {
    let fx = Fixture::new();
    let config = fx.loaded(
        "[barman]\nbarman_home = /b\n[pg]\nconninfo = host=pg\narchiver = on\n[pg:dr]\nmodel = true\ncluster = pg\n",
    );
    assert_eq!(config.servers().len(), 1);
}
