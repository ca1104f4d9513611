//! Builds the PWA (`npm ci` when needed, then `npm run build`) so that one `cargo run`
//! produces a complete binary. Set `HAITANG_SKIP_PWA_BUILD=1` to embed whatever is in
//! `pwa/dist` already (CI builds the PWA once, then compiles several times).

use std::path::Path;
use std::process::Command;

fn main() {
    let pwa = Path::new(env!("CARGO_MANIFEST_DIR")).join("../pwa");
    for watched in [
        "src",
        "public",
        "index.html",
        "package.json",
        "package-lock.json",
        "vite.config.ts",
        "tsconfig.json",
    ] {
        println!("cargo:rerun-if-changed=../pwa/{watched}");
    }
    println!("cargo:rerun-if-env-changed=HAITANG_SKIP_PWA_BUILD");

    let built = pwa.join("dist/index.html").exists();
    if std::env::var_os("HAITANG_SKIP_PWA_BUILD").is_some() && built {
        return;
    }
    if !pwa.join("node_modules/.package-lock.json").exists() {
        run(&pwa, &["ci", "--no-audit", "--no-fund"]);
    }
    run(&pwa, &["run", "build"]);
}

fn run(dir: &Path, args: &[&str]) {
    let status = Command::new("npm").args(args).current_dir(dir).status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`npm {}` in {} failed ({s}); the PWA must build before the server can embed it",
            args.join(" "),
            dir.display()
        ),
        Err(e) => panic!(
            "cannot run npm ({e}); install Node.js 20+ and npm to build the PWA (see README)"
        ),
    }
}
