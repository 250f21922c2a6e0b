//! `swarmcast media`: the test media every test, demo and benchmark plays.
//!
//! One ffmpeg encode of a synthetic 3-rendition ladder (fixed 2 s GOP = segment duration),
//! then remuxes (each well under a second) into every packaging we serve, plus what needs an
//! encode of its own: an MP3, a small VP9/Opus WebM and a long low-rate VOD. The result is
//! kept in a cache folder outside the repository and reused until the recipe changes.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};

/// Bump when the recipe below changes, so cached media is made again.
const RECIPE_VERSION: &str = "4";
const STAMP: &str = ".swarmcast-media";

#[derive(Subcommand, Debug)]
pub enum MediaCommand {
    /// Make the test media unless an up-to-date copy exists, then print its folder.
    Generate(GenerateArgs),
    /// Print the folder the test media lives in (made or not).
    Path(DirArgs),
}

#[derive(Args, Debug, Clone)]
pub struct DirArgs {
    /// Folder for the media [default: $XDG_CACHE_HOME/swarmcast/media or ~/.cache/swarmcast/media].
    #[arg(long, env = "SWARMCAST_MEDIA_DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Length of the media in seconds.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(4..=3600))]
    pub seconds: u32,
    /// Make it again even if an up-to-date copy exists.
    #[arg(long)]
    pub force: bool,
}

pub fn run(cmd: MediaCommand) -> anyhow::Result<()> {
    let dir = match cmd {
        MediaCommand::Generate(args) => ensure(&args)?,
        MediaCommand::Path(args) => media_dir(&args)?,
    };
    println!("{}", dir.display());
    Ok(())
}

pub fn media_dir(args: &DirArgs) -> anyhow::Result<PathBuf> {
    if let Some(dir) = &args.dir {
        return Ok(dir.clone());
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set: pass --dir")?;
    Ok(cache.join("swarmcast").join("media"))
}

fn stamp_text(seconds: u32) -> String {
    format!("recipe {RECIPE_VERSION}, {seconds} s\n")
}

/// Makes the media unless the folder already holds this recipe's output; returns the folder.
pub fn ensure(args: &GenerateArgs) -> anyhow::Result<PathBuf> {
    let dir = media_dir(&args.dir)?;
    let stamp = std::fs::read_to_string(dir.join(STAMP)).unwrap_or_default();
    if !args.force && stamp == stamp_text(args.seconds) {
        tracing::info!(dir = %dir.display(), "test media is up to date");
        return Ok(dir);
    }
    which_ffmpeg()?;
    // Build next to the target and swap in at the end, so an interrupted run leaves nothing
    // half-made behind and concurrent readers never see a partial folder.
    let parent = dir.parent().context("media folder has no parent")?;
    std::fs::create_dir_all(parent)?;
    let work = parent.join(format!(".media-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let started = std::time::Instant::now();
    for step in recipe(args.seconds) {
        for sub in step.dirs {
            std::fs::create_dir_all(work.join(sub))?;
        }
        tracing::info!(step = step.name, "ffmpeg");
        run_ffmpeg(&work, &step.args).with_context(|| format!("making {}", step.name))?;
    }
    std::fs::write(work.join(STAMP), stamp_text(args.seconds))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&work, &dir)?;
    tracing::info!(dir = %dir.display(), secs = started.elapsed().as_secs(), "test media ready");
    Ok(dir)
}

fn which_ffmpeg() -> anyhow::Result<()> {
    match Command::new("ffmpeg").arg("-version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => {
            bail!("ffmpeg is needed to make the test media: install it (`apt-get install ffmpeg`)")
        }
    }
}

fn run_ffmpeg(cwd: &Path, args: &[String]) -> anyhow::Result<()> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .current_dir(cwd)
        .output()
        .context("cannot run ffmpeg")?;
    if !out.status.success() {
        bail!(
            "ffmpeg failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Length of `vod-20min`: long enough that a viewer seeks over hundreds of segments.
pub const LONG_VOD_SECONDS: u32 = 1200;

/// One ffmpeg invocation, run in the output folder.
#[derive(Debug)]
pub struct Step {
    pub name: &'static str,
    pub dirs: &'static [&'static str],
    pub args: Vec<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// The whole recipe: one encode, then remuxes, and a long low-rate VOD. Output layout:
///
/// | path | what |
/// |---|---|
/// | `ladder.mp4` | 720p 2500k / 480p 1000k / 360p 500k H.264 + AAC, the main encode |
/// | `progressive.mp4` | 720p + AAC, faststart |
/// | `audio.mp3` | 128k MP3 |
/// | `progressive.webm` | 360p VP9 500k + Opus 96k (a fast realtime encode of the 360p rung) |
/// | `hls-ts/index.m3u8` | VOD HLS, MPEG-TS segments |
/// | `hls-fmp4/index.m3u8` | VOD HLS, fMP4 segments + `init.mp4` |
/// | `hls-abr/master.m3u8` | 3 renditions `720p/`, `480p/`, `360p/`, MPEG-TS |
/// | `dash/manifest.mpd` | DASH, SegmentTemplate + timeline, with CMAF HLS `master.m3u8` alongside |
/// | `vod-20min/index.m3u8` | a 20-minute VOD (600 segments of 2 s), 180p, an encode of its own at any `seconds` |
pub fn recipe(seconds: u32) -> Vec<Step> {
    let t = seconds.to_string();
    // Fixed 2 s GOP (60 frames at 30 fps), no scene-cut keyframes: every segment starts on one.
    let x264 = "-c:v libx264 -preset veryfast -profile:v main -pix_fmt yuv420p \
                -g 60 -keyint_min 60 -sc_threshold 0 -bf 2 -threads 2";
    let aac = "-c:a aac -b:a 128k -ac 2";
    let encode = words(&format!(
        "-f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
         -t {t} -filter_complex [0:v]split=3[a][b][c];[a]scale=1280:720[v720];[b]scale=854:480[v480];[c]scale=640:360[v360] \
         -map [v720] -map [v480] -map [v360] -map 1:a {x264} \
         -b:v:0 2500k -maxrate:v:0 2750k -bufsize:v:0 5000k \
         -b:v:1 1000k -maxrate:v:1 1100k -bufsize:v:1 2000k \
         -b:v:2 500k -maxrate:v:2 550k -bufsize:v:2 1000k {aac} -fflags +bitexact ladder.mp4"
    ));
    let hls = "-f hls -hls_time 2 -hls_playlist_type vod";
    vec![
        Step { name: "ladder.mp4 (encode)", dirs: &[], args: encode },
        Step {
            name: "progressive.mp4",
            dirs: &[],
            args: words("-i ladder.mp4 -map 0:v:0 -map 0:a:0 -c copy -movflags +faststart progressive.mp4"),
        },
        Step {
            name: "audio.mp3",
            dirs: &[],
            args: words("-i ladder.mp4 -map 0:a:0 -c:a libmp3lame -b:a 128k audio.mp3"),
        },
        Step {
            name: "progressive.webm",
            dirs: &[],
            args: words(
                "-i ladder.mp4 -map 0:v:2 -map 0:a:0 -c:v libvpx-vp9 -b:v 500k -deadline realtime -cpu-used 8 \
                 -row-mt 1 -g 60 -threads 2 -c:a libopus -b:a 96k progressive.webm",
            ),
        },
        Step {
            name: "hls-ts",
            dirs: &["hls-ts"],
            args: words(&format!(
                "-i progressive.mp4 -c copy {hls} -hls_segment_type mpegts \
                 -hls_segment_filename hls-ts/seg_%03d.ts hls-ts/index.m3u8"
            )),
        },
        Step {
            name: "hls-fmp4",
            dirs: &["hls-fmp4"],
            args: words(&format!(
                "-i progressive.mp4 -c copy {hls} -hls_segment_type fmp4 -hls_fmp4_init_filename init.mp4 \
                 -hls_segment_filename hls-fmp4/seg_%03d.m4s hls-fmp4/index.m3u8"
            )),
        },
        Step {
            name: "hls-abr",
            dirs: &["hls-abr"],
            args: words(&format!(
                "-i ladder.mp4 -map 0:v:0 -map 0:a:0 -map 0:v:1 -map 0:a:0 -map 0:v:2 -map 0:a:0 -c copy {hls} \
                 -var_stream_map v:0,a:0,name:720p_v:1,a:1,name:480p_v:2,a:2,name:360p \
                 -master_pl_name master.m3u8 -hls_segment_filename hls-abr/%v/seg_%03d.ts hls-abr/%v/index.m3u8"
            ))
            .into_iter()
            // The stream map is one argument with spaces between renditions.
            .map(|w| if w.starts_with("v:0,") { w.replace('_', " ") } else { w })
            .collect(),
        },
        Step {
            name: "vod-20min",
            dirs: &["vod-20min"],
            args: words(&format!(
                "-f lavfi -i testsrc2=size=320x180:rate=30 -f lavfi -i sine=frequency=330:sample_rate=48000 \
                 -t {LONG_VOD_SECONDS} -c:v libx264 -preset ultrafast -profile:v baseline -pix_fmt yuv420p \
                 -g 60 -keyint_min 60 -sc_threshold 0 -b:v 150k -maxrate 200k -bufsize 300k -threads 2 \
                 -c:a aac -b:a 48k -ac 1 -fflags +bitexact {hls} -hls_segment_type mpegts \
                 -hls_segment_filename vod-20min/seg_%04d.ts vod-20min/index.m3u8"
            )),
        },
        Step {
            name: "dash",
            dirs: &["dash"],
            args: words(
                "-i ladder.mp4 -map 0:v:0 -map 0:v:1 -map 0:v:2 -map 0:a:0 -c copy -f dash -seg_duration 2 \
                 -use_template 1 -use_timeline 1 -adaptation_sets id=0,streams=v_id=1,streams=a -hls_playlist 1 \
                 -init_seg_name init-$RepresentationID$.m4s -media_seg_name chunk-$RepresentationID$-$Number%05d$.m4s \
                 dash/manifest.mpd",
            )
            .into_iter()
            .map(|w| if w.starts_with("id=0,") { w.replace('_', " ") } else { w })
            .collect(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_encodes_once_and_remuxes_the_rest() {
        let steps = recipe(60);
        let encodes = steps
            .iter()
            .filter(|s| s.args.iter().any(|a| a == "libx264"))
            .count();
        // The ladder, and the long VOD at a low rate of its own.
        assert_eq!(encodes, 2);
        for step in &steps[1..] {
            let copies = step.args.iter().any(|a| a == "copy");
            // The audio-only, WebM and long VOD outputs need encodes of their own.
            assert!(
                copies
                    || step.name == "audio.mp3"
                    || step.name == "progressive.webm"
                    || step.name == "vod-20min",
                "{} must remux",
                step.name
            );
        }
        let abr = steps.iter().find(|s| s.name == "hls-abr").unwrap();
        assert!(abr
            .args
            .iter()
            .any(|a| a == "v:0,a:0,name:720p v:1,a:1,name:480p v:2,a:2,name:360p"));
        let gop = &steps[0].args;
        assert!(gop.windows(2).any(|w| w[0] == "-g" && w[1] == "60"));
    }
}
