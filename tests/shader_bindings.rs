//! Why: every pipeline uses an automatic layout, so nothing but `Program::push`'s buffer list
//! ties a kernel binding's numbers to its shader. A renumbered `@binding`, or a storage buffer
//! turned into a uniform, would only surface as a validation error on a user's GPU. This test
//! needs no GPU:
//!
//! - naga lists, for every compute entry point of every `shaders/*.wgsl`, the `(group,
//!   binding)` and access (uniform / storage read / storage read_write) of each global the
//!   entry point uses (printed with `--nocapture`);
//! - the Rust side is read from the source of `src/gpu/*.rs`, where each launch is a
//!   `program.push(ctx, Kernel::X, entry, label, &[(binding, buffer), ..], Some((binding,
//!   params)) | None, groups)` call (directly, through a `let` in the same function, or through
//!   a helper that forwards its arguments, like `elementwise::launch`). There is no binding
//!   table in `src/gpu`: these literals are what the code binds, so they are what is compared;
//! - every launch must bind exactly the storage bindings and the uniform its entry point uses
//!   (wgpu rejects a bind group that differs from the derived layout), every entry point must
//!   be launched somewhere, and `Kernel::entry_points` must list exactly the file's entry points;
//! - the Rust code does not state read vs read_write (the layout is derived from the shader),
//!   so each binding's access is held to the shader's documented `Bindings` header, the table
//!   the Rust authors write against: a binding whose access or number changes without the
//!   header and the Rust launches fails here.
//!
//! The last tests run the same comparison on mutated copies of a shader and of a Rust launch,
//! to show that it fails when one side changes without the other.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use interlab::gpu::Kernel;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Access {
    Uniform,
    Read,
    ReadWrite,
}

impl Access {
    fn describe(self) -> &'static str {
        match self {
            Access::Uniform => "uniform",
            Access::Read => "storage, read",
            Access::ReadWrite => "storage, read_write",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Global {
    group: u32,
    binding: u32,
    access: Access,
    name: String,
}

/// Every resource global of a module, and for each compute entry point the globals it uses.
struct ShaderBindings {
    globals: Vec<Global>,
    entries: BTreeMap<String, Vec<Global>>,
}

fn shader_bindings(file: &str, src: &str) -> Result<ShaderBindings, String> {
    let module =
        naga::front::wgsl::parse_str(src).map_err(|e| format!("{file}: {}", e.emit_to_string(src)))?;
    let info = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), Default::default())
        .validate(&module)
        .map_err(|e| format!("{file}: {}", e.emit_to_string(src)))?;
    let mut handles = Vec::new();
    for (h, g) in module.global_variables.iter() {
        let access = match g.space {
            naga::AddressSpace::Uniform => Access::Uniform,
            naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE) => {
                Access::ReadWrite
            }
            naga::AddressSpace::Storage { .. } => Access::Read,
            naga::AddressSpace::Private | naga::AddressSpace::WorkGroup | naga::AddressSpace::Function => {
                continue
            }
            ref other => return Err(format!("{file}: global {:?} in unexpected space {other:?}", g.name)),
        };
        let b = g.binding.as_ref().ok_or_else(|| format!("{file}: resource {:?} has no binding", g.name))?;
        let name = g.name.clone().unwrap_or_default();
        handles.push((h, Global { group: b.group, binding: b.binding, access, name }));
    }
    let mut entries = BTreeMap::new();
    for (i, ep) in module.entry_points.iter().enumerate() {
        if ep.stage != naga::ShaderStage::Compute {
            return Err(format!("{file}: entry point {} is not a compute shader", ep.name));
        }
        let uses = info.get_entry_point(i);
        let mut used: Vec<Global> =
            handles.iter().filter(|(h, _)| !uses[*h].is_empty()).map(|(_, g)| g.clone()).collect();
        used.sort();
        entries.insert(ep.name.clone(), used);
    }
    let mut globals: Vec<Global> = handles.into_iter().map(|(_, g)| g).collect();
    globals.sort();
    Ok(ShaderBindings { globals, entries })
}

/// The rows `//   N  name  storage, read | storage, read_write | uniform ...` of a shader's
/// `Bindings` header.
fn header_rows(src: &str) -> Vec<(u32, String, Access)> {
    let mut rows = Vec::new();
    for line in src.lines().take_while(|l| l.starts_with("//")) {
        let words: Vec<&str> = line.trim_start_matches('/').split_whitespace().collect();
        let [n, name, kind, ..] = words.as_slice() else { continue };
        let Ok(n) = n.parse::<u32>() else { continue };
        let access = match (*kind, words.get(3).copied()) {
            ("uniform", _) => Access::Uniform,
            ("storage,", Some("read")) => Access::Read,
            ("storage,", Some("read_write")) => Access::ReadWrite,
            _ => continue,
        };
        rows.push((n, name.to_string(), access));
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// The Rust side: launches read from the source text of src/gpu.

/// One `Program::push` as the source states it, with every argument resolved to literals.
#[derive(Clone, Debug)]
struct Launch {
    /// `file:line` of the call that fixes the bindings (the helper's caller for forwarded ones).
    at: String,
    kernel: String,
    /// The entry points this call can launch (several when it is `op.entry()` of an enum).
    entries: Vec<String>,
    /// The buffer list's binding numbers (storage buffers, or a uniform buffer the caller made).
    buffers: BTreeSet<u32>,
    /// The `params` argument's binding: `Program::push` makes a uniform buffer of it.
    uniform: Option<u32>,
}

/// `src` with `//` comments blanked (string literals kept), so positions still match lines.
fn strip_comments(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let (mut i, mut in_str) = (0, false);
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' {
                i += 1;
            } else if b[i] == b'"' {
                in_str = false;
            }
        } else if b[i] == b'"' && (i == 0 || b[i - 1] != b'\'') {
            in_str = true;
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                out[i] = b' ';
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// The index just past the bracket that closes the one at `open`.
fn close_of(s: &str, open: usize) -> usize {
    let b = s.as_bytes();
    let (mut depth, mut i, mut in_str) = (0i32, open, false);
    while i < b.len() {
        let c = b[i];
        if in_str {
            if c == b'\\' {
                i += 1;
            } else if c == b'"' {
                in_str = false;
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    panic!("unbalanced bracket at byte {open}")
}

/// Split `s` at its top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut depth, mut cur, mut in_str) = (Vec::new(), 0i32, String::new(), false);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if in_str {
            cur.push(c);
            if c == '\\' {
                cur.extend(chars.next());
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        parts.push(cur.trim().to_string());
    }
    parts
}

fn is_ident(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_') && !s.starts_with(char::is_numeric)
}

/// The function whose body holds `pos`: (name, parameter names, body start, body end).
fn enclosing_fn(src: &str, pos: usize) -> Option<(String, Vec<String>, usize, usize)> {
    let mut best = None;
    let mut from = 0;
    while let Some(k) = src[from..].find("fn ") {
        let at = from + k;
        from = at + 3;
        if at > 0 && (src.as_bytes()[at - 1].is_ascii_alphanumeric() || src.as_bytes()[at - 1] == b'_') {
            continue;
        }
        let Some(paren) = src[at..].find('(').map(|p| at + p) else { break };
        let name = src[at + 3..paren].trim().split('<').next().unwrap().trim().to_string();
        if !is_ident(&name) {
            continue;
        }
        let params_end = close_of(src, paren);
        let Some(body) = src[params_end..].find('{').map(|p| params_end + p) else { break };
        if src[params_end..body].contains(';') {
            continue; // a declaration without a body
        }
        let end = close_of(src, body);
        if body < pos && pos < end {
            let params = split_top(&src[paren + 1..params_end - 1])
                .iter()
                .filter_map(|p| p.split(':').next().map(|n| n.trim().trim_start_matches("mut ").to_string()))
                .collect();
            best = Some((name, params, body, end)); // later matches are nested deeper
        }
    }
    best
}

fn line_of(src: &str, pos: usize) -> usize {
    src[..pos].matches('\n').count() + 1
}

/// The expression a `let name = <expr>;` (or `let name: T = <expr>;`) before `pos` in the same
/// function binds, if any.
fn let_value(src: &str, fn_start: usize, pos: usize, name: &str) -> Option<String> {
    let body = &src[fn_start..pos];
    let mut found = None;
    for pat in [format!("let {name} ="), format!("let {name}:")] {
        if let Some(k) = body.rfind(&pat) {
            found = found.max(Some(fn_start + k));
        }
    }
    let at = found?;
    let eq = at + src[at..].find('=')?;
    let mut i = eq + 1;
    let b = src.as_bytes();
    while i < src.len() && b[i] != b';' {
        if matches!(b[i], b'(' | b'[' | b'{') {
            i = close_of(src, i);
        } else {
            i += 1;
        }
    }
    Some(src[eq + 1..i].trim().to_string())
}

/// Argument values of one push site or helper call, keyed by the helper's parameter names,
/// plus where they come from.
struct Scope<'a> {
    file: &'a str,
    src: &'a str,
    pos: usize,
    fn_start: usize,
    fn_end: usize,
}

/// `&[(0, a), (1, b)]` (or a `let` naming one) → {0, 1}.
fn resolve_buffers(sc: &Scope, expr: &str) -> Result<BTreeSet<u32>, String> {
    let e = expr.trim().trim_start_matches('&').trim();
    let e = e.strip_prefix("vec!").unwrap_or(e);
    if e.starts_with('[') {
        let inner = &e[1..e.len() - 1];
        let mut set = BTreeSet::new();
        for t in split_top(inner) {
            let t = t.trim().strip_prefix('(').and_then(|t| t.strip_suffix(')')).ok_or_else(|| {
                format!(
                    "{}:{}: buffer entry {t:?} is not (binding, buffer)",
                    sc.file,
                    line_of(sc.src, sc.pos)
                )
            })?;
            let n = split_top(t)[0].parse::<u32>().map_err(|_| {
                format!("{}:{}: binding {t:?} is not a number", sc.file, line_of(sc.src, sc.pos))
            })?;
            if !set.insert(n) {
                return Err(format!("{}:{}: binding {n} bound twice", sc.file, line_of(sc.src, sc.pos)));
            }
        }
        return Ok(set);
    }
    if is_ident(e) {
        if let Some(v) = let_value(sc.src, sc.fn_start, sc.pos, e) {
            return resolve_buffers(sc, &v);
        }
    }
    Err(format!("{}:{}: cannot read the buffer list {expr:?}", sc.file, line_of(sc.src, sc.pos)))
}

/// `Some((12, bytes))` / `None` (or a `let` naming one) → Some(12) / None.
fn resolve_uniform(sc: &Scope, expr: &str) -> Result<Option<u32>, String> {
    let e = expr.trim();
    if e == "None" {
        return Ok(None);
    }
    if let Some(inner) = e.strip_prefix("Some((").and_then(|x| x.strip_suffix("))")) {
        return split_top(inner)[0]
            .parse::<u32>()
            .map(Some)
            .map_err(|_| format!("{}:{}: uniform binding in {e:?}", sc.file, line_of(sc.src, sc.pos)));
    }
    if is_ident(e) {
        if let Some(v) = let_value(sc.src, sc.fn_start, sc.pos, e) {
            return resolve_uniform(sc, &v);
        }
    }
    Err(format!("{}:{}: cannot read the uniform {expr:?}", sc.file, line_of(sc.src, sc.pos)))
}

/// A string literal, or `x.entry()` of an enum whose `fn entry` maps variants to literals —
/// narrowed by an enclosing `if x == Enum::V {` (to V) and by an earlier `if x == Enum::V {
/// .. return .. }` in the same function (V excluded).
fn resolve_entries(sc: &Scope, expr: &str) -> Result<Vec<String>, String> {
    let e = expr.trim();
    if let Some(lit) = e.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
        return Ok(vec![lit.to_string()]);
    }
    let fail = || format!("{}:{}: cannot read the entry point {expr:?}", sc.file, line_of(sc.src, sc.pos));
    let var = e.strip_suffix(".entry()").filter(|v| is_ident(v)).ok_or_else(fail)?;
    let at = sc.src.find("fn entry(self)").ok_or_else(fail)?;
    let body_start = at + sc.src[at..].find('{').ok_or_else(fail)?;
    let body = &sc.src[body_start..close_of(sc.src, body_start)];
    let mut arms: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if let Some((pat, val)) = line.split_once("=>") {
            let variant = pat.trim().split("::").nth(1).map(|v| v.split([' ', '{', '(']).next().unwrap());
            let lit = val.trim().trim_end_matches(',').trim();
            if let (Some(v), Some(l)) = (variant, lit.strip_prefix('"').and_then(|x| x.strip_suffix('"'))) {
                arms.push((v.to_string(), l.to_string()));
            }
        }
    }
    if arms.is_empty() {
        return Err(fail());
    }
    let fn_body = &sc.src[sc.fn_start..sc.fn_end];
    let guard = format!("if {var} == ");
    let mut from = 0;
    while let Some(k) = fn_body[from..].find(&guard) {
        let g = sc.fn_start + from + k;
        from += k + guard.len();
        let Some(open) = sc.src[g..].find('{').map(|o| g + o) else { break };
        let variant = sc.src[g + guard.len()..open].trim().split("::").nth(1).unwrap_or("").to_string();
        let close = close_of(sc.src, open);
        if open < sc.pos && sc.pos < close {
            arms.retain(|(v, _)| *v == variant);
        } else if close <= sc.pos && sc.src[open..close].contains("return") {
            arms.retain(|(v, _)| *v != variant);
        }
    }
    Ok(arms.into_iter().map(|(_, l)| l).collect())
}

/// Every launch the Rust source of one file makes.
fn launches_in(file: &str, raw: &str) -> Result<Vec<Launch>, String> {
    let src = strip_comments(raw);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(k) = src[from..].find(".push(") {
        let open = from + k + ".push".len();
        from = open;
        let args = split_top(&src[open + 1..close_of(&src, open) - 1]);
        if args.len() != 7 || !args[1].starts_with("Kernel::") {
            continue;
        }
        let (fn_name, fn_params, fn_start, fn_end) =
            enclosing_fn(&src, open).ok_or_else(|| format!("{file}: push outside a function"))?;
        let kernel = args[1]["Kernel::".len()..].to_string();
        let forwarded = |a: &str| fn_params.iter().position(|p| p == a.trim().trim_start_matches('&'));
        let (ie, ib, iu) = (forwarded(&args[2]), forwarded(&args[4]), forwarded(&args[5]));
        if ie.is_none() && ib.is_none() && iu.is_none() {
            let sc = Scope { file, src: &src, pos: open, fn_start, fn_end };
            out.push(Launch {
                at: format!("{file}:{}", line_of(&src, open)),
                kernel,
                entries: resolve_entries(&sc, &args[2])?,
                buffers: resolve_buffers(&sc, &args[4])?,
                uniform: resolve_uniform(&sc, &args[5])?,
            });
            continue;
        }
        // A helper that forwards its own parameters: every call of it in this file is a launch.
        let mut calls = 0;
        let pat = format!("{fn_name}(");
        let mut cf = 0;
        while let Some(c) = src[cf..].find(&pat) {
            let at = cf + c;
            cf = at + pat.len();
            let before = src[..at].trim_end();
            if before.ends_with("fn") || src.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let copen = at + fn_name.len();
            let cargs = split_top(&src[copen + 1..close_of(&src, copen) - 1]);
            let (_, _, caller_start, caller_end) =
                enclosing_fn(&src, at).ok_or_else(|| format!("{file}: call outside a function"))?;
            let caller = Scope { file, src: &src, pos: at, fn_start: caller_start, fn_end: caller_end };
            let inside = Scope { file, src: &src, pos: open, fn_start, fn_end };
            let pick = |i: Option<usize>, own: &str| match i {
                Some(i) => (&caller, cargs[i].clone()),
                None => (&inside, own.to_string()),
            };
            let (se, e) = pick(ie, &args[2]);
            let (sb, b) = pick(ib, &args[4]);
            let (su, u) = pick(iu, &args[5]);
            out.push(Launch {
                at: format!("{file}:{}", line_of(&src, at)),
                kernel: kernel.clone(),
                entries: resolve_entries(se, &e)?,
                buffers: resolve_buffers(sb, &b)?,
                uniform: resolve_uniform(su, &u)?,
            });
            calls += 1;
        }
        if calls == 0 {
            return Err(format!(
                "{file}:{}: {fn_name} forwards to push but is never called",
                line_of(&src, open)
            ));
        }
    }
    Ok(out)
}

fn rust_sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src/gpu"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.strip_prefix(root).unwrap().display().to_string();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn all_launches(sources: &[(String, String)]) -> Result<Vec<Launch>, String> {
    let mut all = Vec::new();
    for (file, src) in sources {
        all.extend(launches_in(file, src)?);
    }
    Ok(all)
}

// ---------------------------------------------------------------------------------------------
// The comparison.

fn kernel_named(variant: &str) -> Option<Kernel> {
    Kernel::ALL.iter().copied().find(|k| format!("{k:?}") == variant)
}

/// Every disagreement between `kernel`'s shader (`src`), its header and the launches.
fn compare(kernel: Kernel, src: &str, launches: &[Launch]) -> Vec<String> {
    let file = kernel.file();
    let mut errs = Vec::new();
    let sb = match shader_bindings(file, src) {
        Ok(sb) => sb,
        Err(e) => return vec![e],
    };
    let listed: BTreeSet<&str> = kernel.entry_points().iter().copied().collect();
    let defined: BTreeSet<&str> = sb.entries.keys().map(|s| s.as_str()).collect();
    if listed != defined {
        errs.push(format!("{file}: Kernel::entry_points lists {listed:?}, the shader defines {defined:?}"));
    }
    // The documented header, binding by binding.
    let rows = header_rows(src);
    for g in &sb.globals {
        if g.group != 0 {
            errs.push(format!("{file}: {} is in group {}; Program binds group 0 only", g.name, g.group));
        }
        match rows.iter().find(|(n, _, _)| *n == g.binding) {
            None => {
                errs.push(format!("{file}: binding {} ({}) is not in the Bindings header", g.binding, g.name))
            }
            Some((_, name, access)) if *name != g.name || *access != g.access => errs.push(format!(
                "{file}: binding {} is `{}` {} in the shader but `{name}` {} in the Bindings header",
                g.binding,
                g.name,
                g.access.describe(),
                access.describe()
            )),
            Some(_) => {}
        }
    }
    for (n, name, _) in &rows {
        if !sb.globals.iter().any(|g| g.binding == *n) {
            errs.push(format!("{file}: the Bindings header documents {n} `{name}`, which the shader lacks"));
        }
    }
    // The Rust launches, entry point by entry point.
    let mine: Vec<&Launch> = launches.iter().filter(|l| kernel_named(&l.kernel) == Some(kernel)).collect();
    for (entry, used) in &sb.entries {
        let bindings: BTreeSet<u32> = used.iter().map(|g| g.binding).collect();
        let sites: Vec<&&Launch> = mine.iter().filter(|l| l.entries.iter().any(|e| e == entry)).collect();
        if sites.is_empty() {
            errs.push(format!("{file} {entry}: no launch in src/gpu binds it"));
        }
        for l in sites {
            let mut bound = l.buffers.clone();
            bound.extend(l.uniform);
            if bound != bindings {
                errs.push(format!(
                    "{} launches {file} {entry} with bindings {bound:?}; the entry point uses {bindings:?}",
                    l.at
                ));
            }
            if let Some(u) = l.uniform {
                let there = used.iter().find(|g| g.binding == u).map_or("unused", |g| g.access.describe());
                if there != Access::Uniform.describe() {
                    errs.push(format!(
                        "{} launches {file} {entry} with its params uniform at {u}; the entry point's binding {u} is {there}",
                        l.at
                    ));
                }
            }
        }
    }
    for l in &mine {
        for e in &l.entries {
            if !sb.entries.contains_key(e) {
                errs.push(format!("{} launches {file} entry point '{e}', which the shader lacks", l.at));
            }
        }
    }
    errs
}

fn list(sb: &ShaderBindings, file: &str) {
    for (entry, used) in &sb.entries {
        let row: Vec<String> = used
            .iter()
            .map(|g| format!("({}, {}) {} {}", g.group, g.binding, g.name, g.access.describe()))
            .collect();
        println!("{file} {entry}: {}", row.join("; "));
    }
}

fn shader_file_names() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shader_binding_matches_the_rust_launches_and_the_header() {
    let launches = all_launches(&rust_sources()).unwrap_or_else(|e| panic!("{e}"));
    for l in &launches {
        assert!(kernel_named(&l.kernel).is_some(), "{}: unknown kernel {}", l.at, l.kernel);
        assert!(!l.entries.is_empty(), "{}: the call launches no entry point", l.at);
    }
    let names = shader_file_names();
    assert_eq!(names.len(), Kernel::ALL.len(), "one Kernel per shaders/*.wgsl: {names:?}");
    let mut errs = Vec::new();
    let mut checked = 0;
    for name in names {
        let kernel = Kernel::ALL.iter().copied().find(|k| k.file() == name).unwrap();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders").join(&name);
        let src = std::fs::read_to_string(path).unwrap();
        list(&shader_bindings(&name, &src).unwrap(), &name);
        errs.extend(compare(kernel, &src, &launches));
        checked += kernel.entry_points().len();
    }
    println!("{checked} entry points checked against {} launch sites in src/gpu", launches.len());
    assert!(errs.is_empty(), "{} disagreements:\n{}", errs.len(), errs.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// The comparison must fail when one side changes alone.

fn layer_norm_src() -> &'static str {
    Kernel::LayerNorm.source()
}

fn real_launches() -> Vec<Launch> {
    all_launches(&rust_sources()).unwrap()
}

fn mutated(from: &str, to: &str) -> String {
    let src = layer_norm_src();
    assert_eq!(src.matches(from).count(), 1, "the mutation must hit exactly one place: {from}");
    src.replace(from, to)
}

#[test]
fn the_unmodified_layer_norm_passes_so_the_mutations_below_are_what_fail() {
    assert_eq!(compare(Kernel::LayerNorm, layer_norm_src(), &real_launches()), Vec::<String>::new());
}

#[test]
fn a_renumbered_storage_binding_fails() {
    let src = mutated(
        "@group(0) @binding(6) var<storage, read_write> y:",
        "@group(0) @binding(13) var<storage, read_write> y:",
    );
    let errs = compare(Kernel::LayerNorm, &src, &real_launches());
    assert!(
        errs.iter().any(|e| e.contains("layer_norm.rs") && e.contains("forward with bindings")),
        "{errs:#?}"
    );
    assert!(errs.iter().any(|e| e.contains("binding 13 (y) is not in the Bindings header")), "{errs:#?}");
}

#[test]
fn a_renumbered_uniform_fails() {
    let src = mutated("@group(0) @binding(12) var<uniform>", "@group(0) @binding(14) var<uniform>");
    let errs = compare(Kernel::LayerNorm, &src, &real_launches());
    for entry in ["forward", "backward", "gain_partial", "gain_reduce"] {
        let moved = format!("{entry} with its params uniform at 12; the entry point's binding 12 is unused");
        assert!(errs.iter().any(|e| e.contains(&moved)), "{entry}: {errs:#?}");
    }
}

#[test]
fn an_access_change_fails() {
    // g becomes writable: the bind group still has the same numbers, but the shader no longer
    // does what its documented layout says.
    let src = mutated(
        "@group(0) @binding(1) var<storage, read> g:",
        "@group(0) @binding(1) var<storage, read_write> g:",
    );
    let errs = compare(Kernel::LayerNorm, &src, &real_launches());
    assert_eq!(
        errs,
        vec!["layer_norm.wgsl: binding 1 is `g` storage, read_write in the shader but `g` storage, read \
              in the Bindings header"
            .to_string()]
    );
}

#[test]
fn a_uniform_turned_storage_fails() {
    // The parameters (binding 12) move from a uniform to a read-only storage buffer: the
    // numbers stay, but the launches still bind a uniform there.
    let src = mutated(
        "@group(0) @binding(12) var<uniform> params",
        "@group(0) @binding(12) var<storage, read> params",
    );
    let errs = compare(Kernel::LayerNorm, &src, &real_launches());
    for entry in ["forward", "backward", "gain_partial", "gain_reduce"] {
        let kind =
            format!("{entry} with its params uniform at 12; the entry point's binding 12 is storage, read");
        assert!(errs.iter().any(|e| e.contains(&kind)), "{entry}: {errs:#?}");
    }
    assert_eq!(errs.len(), 5, "4 launches and the header, nothing else: {errs:#?}");
    assert!(
        errs.iter().any(|e| e.contains("binding 12 is `params` storage, read in the shader")),
        "{errs:#?}"
    );
}

#[test]
fn a_rust_launch_that_changes_alone_fails() {
    let sources = rust_sources();
    let (file, text) = sources.iter().find(|(f, _)| f.ends_with("layer_norm.rs")).unwrap();
    let from = "&[(0, x), (1, g), (6, y), (7, mean), (8, rstd)]";
    assert_eq!(text.matches(from).count(), 1);
    let edited = text.replace(from, "&[(0, x), (1, g), (6, y), (7, mean), (9, rstd)]");
    let mut launches: Vec<Launch> = real_launches().into_iter().filter(|l| !l.at.starts_with(file)).collect();
    launches.extend(launches_in(file, &edited).unwrap());
    let errs = compare(Kernel::LayerNorm, layer_norm_src(), &launches);
    assert_eq!(errs.len(), 1, "{errs:#?}");
    assert!(errs[0].contains("forward with bindings {0, 1, 6, 7, 9, 12}"), "{errs:#?}");
}

#[test]
fn forwarded_and_narrowed_launches_are_read_per_entry_point() {
    // elementwise::launch forwards its entry and buffers; record_elementwise binds only dst
    // for Op::Zero (inside `if op == Op::Zero`) and src + dst for the other four ops.
    let launches = real_launches();
    let zero: Vec<&Launch> = launches
        .iter()
        .filter(|l| l.kernel == "Elementwise" && l.entries.contains(&"fill_zero".into()))
        .collect();
    assert_eq!(zero.len(), 1, "{zero:#?}");
    assert_eq!(zero[0].entries, vec!["fill_zero".to_string()]);
    assert_eq!(zero[0].buffers, BTreeSet::from([2]));
    assert_eq!(zero[0].uniform, Some(3));
    let copy: Vec<&Launch> = launches.iter().filter(|l| l.entries.contains(&"copy_into".into())).collect();
    assert_eq!(copy.len(), 1);
    assert_eq!(copy[0].entries, ["copy_into", "add_into", "add_cyclic", "relu_mask"]);
    assert_eq!(copy[0].buffers, BTreeSet::from([0, 2]));
    // An unreadable argument is an error naming the place, not a silent skip.
    let bad = "fn f(program: &mut Program, ctx: &GpuContext) {\n    program.push(ctx, Kernel::Matmul, \"main\", \"l\", &make(), None, [1, 1, 1]);\n}\n";
    let e = launches_in("x.rs", bad).unwrap_err();
    assert!(e.contains("x.rs:2: cannot read the buffer list"), "{e}");
}
