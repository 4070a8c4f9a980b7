//! Parsing of `sim/models.txt`: one model per line,
//! `PREFIX TOP_MODULE [PARAM=VALUE ...] [dir=DIR ...] [vflag=FLAG ...]`,
//! `#` starts a comment.

use std::path::Path;

use crate::{is_ident, Error, Result};

/// One line of models.txt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Name of the model in Rust (`Model::new("PREFIX")`); a C identifier.
    pub prefix: String,
    /// The Verilog top module.
    pub top: String,
    /// Parameter overrides, passed verbatim as `-GNAME=VALUE`.
    pub params: Vec<(String, String)>,
    /// Directories relative to the workspace root; the first holds the top file.
    pub dirs: Vec<String>,
    /// Extra Verilator arguments.
    pub vflags: Vec<String>,
    /// Top file, relative to the workspace root.
    pub top_file: String,
}

#[cfg(test)]
impl ModelSpec {
    /// A spec for unit tests: the top file is `<first dir>/<top>.v`.
    pub(crate) fn fixture(
        prefix: &str,
        top: &str,
        params: &[(&str, &str)],
        dirs: &[&str],
        vflags: &[&str],
    ) -> ModelSpec {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        ModelSpec {
            prefix: prefix.into(),
            top: top.into(),
            params: params.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
            dirs: owned(dirs),
            vflags: owned(vflags),
            top_file: format!("{}/{top}.v", dirs[0]),
        }
    }
}

/// What is wrong with a line of models.txt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelsTxtError {
    /// Only a prefix on the line.
    #[error("expected `PREFIX TOP_MODULE [PARAM=VALUE ...]`")]
    MissingTop,
    /// The prefix is not a C identifier.
    #[error("model prefix {0:?} must be a C identifier ([A-Za-z_][A-Za-z0-9_]*)")]
    BadPrefix(String),
    /// The top module is not an identifier.
    #[error("top module {0:?} is not a plain identifier")]
    BadTop(String),
    /// The prefix is used by an earlier line.
    #[error("model prefix {0:?} is listed twice")]
    DuplicatePrefix(String),
    /// A token after the top module has no `=`.
    #[error("expected NAME=VALUE, got {0:?}")]
    NotNameValue(String),
    /// A `NAME=VALUE` token whose name is not an identifier or whose value is empty.
    #[error("bad parameter {0:?}")]
    BadParam(String),
    /// Neither `DIR/TOP.v` nor `DIR/TOP.sv` exists.
    #[error("model {prefix}: top file {path} does not exist (expected {top}.v in {dir})")]
    TopFileMissing {
        /// The model.
        prefix: String,
        /// The `.v` path looked for (absolute).
        path: String,
        /// The top module.
        top: String,
        /// The directory looked in (relative to the workspace root).
        dir: String,
    },
}

/// Parses models.txt; top files are looked up under `ws_root`.
pub fn parse_models(text: &str, ws_root: &Path) -> Result<Vec<ModelSpec>> {
    parse_models_with(text, ws_root, |rel| ws_root.join(rel).is_file())
}

/// Parses models.txt with `exists(path relative to ws_root)` telling which
/// top files exist (`ws_root` is only used in messages).
pub fn parse_models_with(
    text: &str,
    ws_root: &Path,
    exists: impl Fn(&str) -> bool,
) -> Result<Vec<ModelSpec>> {
    let mut specs: Vec<ModelSpec> = Vec::new();
    for (lineno, raw) in text.lines().enumerate() {
        let lineno = lineno + 1;
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |kind: ModelsTxtError| Error::ModelsTxt {
            line: lineno,
            raw: raw.to_string(),
            kind: Box::new(kind),
        };
        let mut toks = line.split_whitespace();
        let prefix = toks.next().unwrap_or_default().to_string();
        let top = toks
            .next()
            .ok_or_else(|| err(ModelsTxtError::MissingTop))?
            .to_string();
        if !is_ident(&prefix) {
            return Err(err(ModelsTxtError::BadPrefix(prefix)));
        }
        if !is_ident(&top) {
            return Err(err(ModelsTxtError::BadTop(top)));
        }
        if specs.iter().any(|s| s.prefix == prefix) {
            return Err(err(ModelsTxtError::DuplicatePrefix(prefix)));
        }
        let mut params = Vec::new();
        let mut dirs = Vec::new();
        let mut vflags = Vec::new();
        for t in toks {
            let (k, v) = t
                .split_once('=')
                .ok_or_else(|| err(ModelsTxtError::NotNameValue(t.to_string())))?;
            match k {
                "dir" => dirs.push(v.trim_end_matches('/').to_string()),
                "vflag" => vflags.push(v.to_string()),
                _ if is_ident(k) && !v.is_empty() => params.push((k.to_string(), v.to_string())),
                _ => return Err(err(ModelsTxtError::BadParam(t.to_string()))),
            }
        }
        if dirs.is_empty() {
            dirs.push("rtl".into());
        }
        let mut top_file = format!("{}/{}.v", dirs[0], top);
        if !exists(&top_file) {
            let sv = format!("{}/{}.sv", dirs[0], top);
            if exists(&sv) {
                top_file = sv;
            } else {
                return Err(err(ModelsTxtError::TopFileMissing {
                    path: ws_root.join(&top_file).display().to_string(),
                    dir: dirs[0].clone(),
                    prefix,
                    top,
                }));
            }
        }
        specs.push(ModelSpec {
            prefix,
            top,
            params,
            dirs,
            vflags,
            top_file,
        });
    }
    Ok(specs)
}

/// `BUFLET_SIM_ONLY=prefix,prefix...`: keeps only those models (all of them
/// when the list is empty).
pub fn retain_only(specs: &mut Vec<ModelSpec>, only: &str) {
    let keep: Vec<&str> = only
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if !keep.is_empty() {
        specs.retain(|m| keep.iter().any(|k| m.prefix == *k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILES: &[&str] = &[
        "rtl/sync_fifo.v",
        "rtl/axis_packer.v",
        "sim/selftest/sim_selftest.v",
        "hw/pkg_top.sv",
    ];

    fn parse(text: &str) -> Result<Vec<ModelSpec>> {
        parse_models_with(text, Path::new("/ws"), |p| FILES.contains(&p))
    }

    fn kind(text: &str) -> (usize, ModelsTxtError) {
        match parse(text).unwrap_err() {
            Error::ModelsTxt { line, kind, .. } => (line, *kind),
            other => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn good_lines() {
        let text = "# header comment\n\
                    \n\
                    sync_fifo_w64   sync_fifo WIDTH=64 DEPTH=4   # trailing comment\n\
                    selftest_w72  sim_selftest DATA_WIDTH=72  dir=sim/selftest/\n\
                    pk  pkg_top dir=hw dir=rtl vflag=-Wno-WIDTH NAME=\"abc\"\n";
        let specs = parse(text).unwrap();
        assert_eq!(specs.len(), 3);
        assert_eq!(
            specs[0],
            ModelSpec {
                prefix: "sync_fifo_w64".into(),
                top: "sync_fifo".into(),
                params: vec![("WIDTH".into(), "64".into()), ("DEPTH".into(), "4".into())],
                dirs: vec!["rtl".into()],
                vflags: vec![],
                top_file: "rtl/sync_fifo.v".into(),
            }
        );
        // trailing slash dropped from dir=
        assert_eq!(specs[1].dirs, ["sim/selftest"]);
        assert_eq!(specs[1].top_file, "sim/selftest/sim_selftest.v");
        // .sv fallback, several dirs, vflags, quoted string parameter kept verbatim
        assert_eq!(specs[2].top_file, "hw/pkg_top.sv");
        assert_eq!(specs[2].dirs, ["hw", "rtl"]);
        assert_eq!(specs[2].vflags, ["-Wno-WIDTH"]);
        assert_eq!(
            specs[2].params,
            [("NAME".to_string(), "\"abc\"".to_string())]
        );
    }

    #[test]
    fn empty_file() {
        assert!(parse("# nothing\n   \n").unwrap().is_empty());
    }

    #[test]
    fn missing_top() {
        assert_eq!(kind("\nonly_prefix\n"), (2, ModelsTxtError::MissingTop));
    }

    #[test]
    fn bad_prefix() {
        assert_eq!(
            kind("9lives sync_fifo"),
            (1, ModelsTxtError::BadPrefix("9lives".into()))
        );
    }

    #[test]
    fn bad_top() {
        assert_eq!(
            kind("a sync-fifo"),
            (1, ModelsTxtError::BadTop("sync-fifo".into()))
        );
    }

    #[test]
    fn duplicate_prefix() {
        assert_eq!(
            kind("a sync_fifo\nb sync_fifo\na axis_packer"),
            (3, ModelsTxtError::DuplicatePrefix("a".into()))
        );
    }

    #[test]
    fn not_name_value() {
        assert_eq!(
            kind("a sync_fifo WIDTH"),
            (1, ModelsTxtError::NotNameValue("WIDTH".into()))
        );
    }

    #[test]
    fn bad_param() {
        assert_eq!(
            kind("a sync_fifo WIDTH="),
            (1, ModelsTxtError::BadParam("WIDTH=".into()))
        );
        assert_eq!(
            kind("a sync_fifo 1W=3"),
            (1, ModelsTxtError::BadParam("1W=3".into()))
        );
    }

    #[test]
    fn top_file_missing() {
        let (line, k) = kind("a nosuch dir=rtl/");
        assert_eq!(line, 1);
        assert_eq!(
            k,
            ModelsTxtError::TopFileMissing {
                prefix: "a".into(),
                path: "/ws/rtl/nosuch.v".into(),
                top: "nosuch".into(),
                dir: "rtl".into(),
            }
        );
    }

    #[test]
    fn error_message_names_file_line_and_text() {
        let e = parse("x sync_fifo\n  y sync_fifo BAD\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sim/models.txt:2: expected NAME=VALUE, got \"BAD\"\n      y sync_fifo BAD"
        );
    }

    #[test]
    fn only_filter() {
        let mut specs = parse("a sync_fifo\nb sync_fifo\nc sync_fifo").unwrap();
        retain_only(&mut specs, " , ");
        assert_eq!(specs.len(), 3);
        retain_only(&mut specs, "c, a");
        let names: Vec<_> = specs.iter().map(|s| s.prefix.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
    }
}
