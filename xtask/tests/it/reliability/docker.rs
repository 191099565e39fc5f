//! Docker: an unreachable engine, a connection dropped mid-build, hostile contexts.

use super::*;

/// `preflight --only build-core` with no engine behind `DOCKER_HOST`: exit 3 naming the host
/// and how to start one, before anything is compiled or built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn docker_unreachable_is_exit_3_naming_the_fix() {
    let repo = Repo::new();
    let before = repo.snapshot();
    // A socket that accepts and hangs up at once: an engine dying as we connect.
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("closing.sock");
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });
    let closing = format!("unix://{}", sock.display());
    for (class, host) in [
        ("Docker: no socket", "unix:///nonexistent/docker.sock"),
        ("Docker: closed TCP port", "tcp://127.0.0.1:9"),
        ("Docker: socket hangs up at once", closing.as_str()),
    ] {
        let run = xtask_async(
            repo.work(),
            strings(&["preflight", "--only", "build-core", "--release", "1.2.3"]),
            envs(&[("DOCKER_HOST", host)]),
        )
        .await;
        expect(
            class,
            &run,
            3,
            &["cannot reach the Docker engine at", "start an engine"],
        );
        assert!(
            run.stderr.contains(host),
            "[{class}] does not name {host}: {}",
            run.stderr
        );
    }
    assert_eq!(repo.snapshot(), before);
}

/// Where a socket proxy cuts the build connection.
#[derive(Clone, Copy, Debug)]
pub(super) enum Cut {
    /// After this many bytes of the engine's answer to the build request.
    Answer(usize),
    /// After this many bytes of the build request (the context upload).
    Upload(usize),
}

/// A unix-socket proxy in front of the Docker engine that cuts the connection carrying the
/// build request. The shared engine is never restarted; this is how "the engine went away in
/// the middle of a build" is simulated.
pub(super) async fn docker_proxy(dir: &Path, cut: Option<Cut>) -> (PathBuf, Arc<AtomicU32>) {
    let sock = dir.join(format!(
        "docker-{}.sock",
        cut.map_or("pass".into(), |c| format!("{c:?}").replace(['(', ')'], "-"))
    ));
    let listener = tokio::net::UnixListener::bind(&sock).unwrap();
    let cuts = Arc::new(AtomicU32::new(0));
    let counter = cuts.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let Ok(engine) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut er, mut ew) = engine.into_split();
                let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let up_armed = armed.clone();
                let up_counter = counter.clone();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent_after = 0usize;
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if buf[..n].windows(7).any(|w| w == b"/build?") {
                            up_armed.store(true, Ordering::SeqCst);
                        }
                        if let (true, Some(Cut::Upload(limit))) =
                            (up_armed.load(Ordering::SeqCst), cut)
                        {
                            if sent_after + n > limit {
                                up_counter.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            sent_after += n;
                        }
                        if ew.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent_after = 0usize;
                    loop {
                        let n = match er.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut n = n;
                        if let (true, Some(Cut::Answer(limit))) =
                            (armed.load(Ordering::SeqCst), cut)
                        {
                            if sent_after + n > limit {
                                n = limit - sent_after;
                                let _ = cw.write_all(&buf[..n]).await;
                                counter.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            sent_after += n;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                // Whichever side stops first closes both: the cut is a hard close.
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                }
            });
        }
    });
    (sock, cuts)
}

/// The engine's connection drops in the middle of a build (while it streams its answer, and
/// while the context is uploading): the build fails with exit 3 naming the engine and the fix,
/// and the rerun through a healthy connection builds the image.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn docker_connection_dropped_mid_build_then_the_rerun_builds() {
    crate::docker_required!();
    use xtask::effects::docker::{BuildRequest, Docker};
    let dir = tempfile::tempdir().unwrap();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY payload /payload\nCOPY hello /hello\n",
    )
    .unwrap();
    // A context large enough that the upload spans many reads.
    std::fs::write(ctx.join("payload"), vec![7u8; 512 * 1024]).unwrap();
    std::fs::write(ctx.join("hello"), "hello\n").unwrap();
    let tag = format!("aisopsflow-reliability/dropped:{}", std::process::id());
    let req = BuildRequest {
        tag: tag.clone(),
        build_args: Default::default(),
        labels: Default::default(),
    };
    for cut in [Cut::Answer(64), Cut::Upload(100 * 1024)] {
        let (sock, cuts) = docker_proxy(dir.path(), Some(cut)).await;
        let docker = Docker::connect_to(&format!("unix://{}", sock.display()))
            .await
            .unwrap();
        let entries = xtask::images::context::collect(&ctx).unwrap();
        let err = docker
            .build(
                &req,
                || xtask::images::context::stream(entries.clone()),
                |_| {},
            )
            .await
            .expect_err("a build over a cut connection cannot succeed");
        let msg = format!("{err:#}");
        println!(
            "| Docker: connection cut {cut:?} | {} | {msg} |",
            xtask::exit::code_for(&err)
        );
        assert_eq!(
            cuts.load(Ordering::SeqCst),
            1,
            "{cut:?}: the cut never happened: {msg}"
        );
        assert_eq!(
            xtask::exit::code_for(&err),
            xtask::exit::EXTERNAL,
            "{cut:?}: {msg}"
        );
        assert!(
            msg.contains(&tag) && msg.contains("docker info") && msg.contains("rerun"),
            "{cut:?}: {msg}"
        );
    }
    // The rerun, through a proxy that does not cut, builds the image.
    let (sock, cuts) = docker_proxy(dir.path(), None).await;
    let docker = Docker::connect_to(&format!("unix://{}", sock.display()))
        .await
        .unwrap();
    let entries = xtask::images::context::collect(&ctx).unwrap();
    let id = docker
        .build(
            &req,
            || xtask::images::context::stream(entries.clone()),
            |_| {},
        )
        .await
        .expect("the rerun builds");
    assert_eq!(cuts.load(Ordering::SeqCst), 0);
    assert!(docker.image(&tag).await.unwrap().is_some(), "{id}");
    docker.remove_image(&tag).await.unwrap();
}

/// Build contexts that try to smuggle in host files, and one of 100,000 files.
#[test]
pub(super) fn hostile_and_huge_build_contexts() {
    use xtask::images::context::{EntryKind, collect, hash, write_tar};
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, "host file").unwrap();
    let cases: &[(&str, &str, &str)] = &[
        ("symlink escape: absolute target", "link", "/etc/passwd"),
        (
            "symlink escape: relative, above the root",
            "link",
            "../secret.txt",
        ),
        (
            "symlink escape: deep relative",
            "a/b/link",
            "../../../secret.txt",
        ),
        (
            "symlink escape: down and back up past the root",
            "a/link",
            "b/../../../secret.txt",
        ),
    ];
    for (class, at, target) in cases {
        let ctx = dir.path().join(format!("ctx-{}", class.len() + at.len()));
        let _ = std::fs::remove_dir_all(&ctx);
        std::fs::create_dir_all(ctx.join("a/b")).unwrap();
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
        std::os::unix::fs::symlink(target, ctx.join(at)).unwrap();
        let err = collect(&ctx).expect_err(class);
        let msg = format!("{err:#}");
        println!("| {class} | error | {msg} |");
        assert!(
            msg.contains(at.rsplit('/').next().unwrap()) && msg.contains(target),
            "[{class}] {msg}"
        );
        assert!(
            msg.contains(".dockerignore") || msg.contains("remove"),
            "[{class}] names no fix: {msg}"
        );
    }
    // An escaping symlink that .dockerignore excludes is never looked at.
    let ctx = dir.path().join("ctx-ignored");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(ctx.join(".dockerignore"), "link\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", ctx.join("link")).unwrap();
    let entries = collect(&ctx).expect("an ignored symlink is fine");
    assert!(entries.iter().all(|e| e.rel != "link"));
    // A symlink inside the context is kept as a link, never followed.
    std::fs::write(ctx.join(".dockerignore"), "").unwrap();
    std::fs::remove_file(ctx.join("link")).unwrap();
    std::fs::write(ctx.join("real"), "x").unwrap();
    std::os::unix::fs::symlink("real", ctx.join("inside")).unwrap();
    let entries = collect(&ctx).unwrap();
    assert!(entries.iter().any(|e| e.rel == "inside"
        && matches!(&e.kind, EntryKind::Symlink { target } if target == "real")));

    // 100,000 files in 100 directories: collected, hashed and streamed as a tar (into a sink,
    // so nothing is held in memory), deterministically.
    let big = dir.path().join("big");
    std::fs::create_dir_all(&big).unwrap();
    std::fs::write(big.join("Dockerfile"), "FROM scratch\nCOPY . /\n").unwrap();
    std::fs::write(big.join(".dockerignore"), "d7*/f1*\n").unwrap();
    for d in 0..100 {
        let sub = big.join(format!("d{d}"));
        std::fs::create_dir_all(&sub).unwrap();
        for f in 0..1000 {
            std::fs::write(sub.join(format!("f{f}")), format!("{d}/{f}")).unwrap();
        }
    }
    let entries = collect(&big).expect("collecting 100,000 files");
    let files = entries
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File { .. }))
        .count();
    // d7 and d70..d79 exclude f1, f10..f19, f100..f199: 111 files each.
    assert_eq!(files, 100_000 - 11 * 111 + 2, "files collected");
    let counted = CountingSink::default();
    let counted = write_tar(&entries, counted).unwrap();
    assert!(counted.0 > 100_000 * 512, "tar of {} bytes", counted.0);
    assert_eq!(
        hash(&entries).unwrap(),
        hash(&collect(&big).unwrap()).unwrap(),
        "not deterministic"
    );
    println!(
        "| context of 100,000 files | ok | {files} files, tar {} bytes |",
        counted.0
    );
}

#[derive(Default)]
pub(super) struct CountingSink(u64);

impl std::io::Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
