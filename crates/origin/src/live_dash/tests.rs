use manifest::dash::{segment_id, Mpd};

use super::*;

/// Three 2 s video segments and audio segments of uneven length: one loop is 6 s.
const VOD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns="urn:mpeg:dash:schema:mpd:2011" xsi:schemaLocation="urn:mpeg:DASH:schema:MPD:2011 DASH-MPD.xsd"
	profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT6.0S" minBufferTime="PT4.0S">
	<ProgramInformation><Title>a &amp; b</Title></ProgramInformation>
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video">
			<Representation id="0" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="2504380" width="1280" height="720">
				<SegmentTemplate timescale="1000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline><S t="0" d="2000" r="2" /></SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio">
			<Representation id="1" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="128000">
				<SegmentTemplate timescale="100" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline><S t="0" d="190" /><S d="210" /><S d="200" /></SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
	</Period>
</MPD>"#;

const STARTED: f64 = 1_700_000_000.0;

fn live_at(window: usize, elapsed: f64) -> (String, Mpd) {
    let l = DashLoop::new(VOD, window).unwrap();
    let text = l.mpd_at(STARTED, STARTED + elapsed);
    let mpd = Mpd::parse(&text, "http://o/live/dash/manifest.mpd")
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, mpd)
}

fn listed(mpd: &Mpd, rep: &str, elapsed: f64) -> Vec<(String, i64)> {
    let s = mpd.segments(rep, STARTED + elapsed).unwrap().segments;
    s.into_iter()
        .map(|s| {
            (
                s.url.trim_start_matches("http://o/live/dash/").to_owned(),
                s.id,
            )
        })
        .collect()
}

#[test]
fn starts_with_a_full_window_of_a_dynamic_mpd() {
    let (text, mpd) = live_at(2, 0.0);
    assert!(mpd.live);
    // The stream began one window (2 × 2.1 s) before the origin.
    assert!(
        (mpd.availability_start - (STARTED - 4.2)).abs() < 1e-3,
        "{}",
        mpd.availability_start
    );
    assert_eq!(mpd.time_shift_buffer_depth, Some(4.2));
    assert_eq!(mpd.minimum_update_period, Some(2.1));
    assert_eq!(mpd.duration, None);
    assert_eq!(
        listed(&mpd, "0", 0.0),
        [
            ("chunk-0-00001.m4s?loop=0".to_owned(), 0),
            ("chunk-0-00002.m4s?loop=0".to_owned(), 4)
        ]
    );
    assert_eq!(
        listed(&mpd, "1", 0.0),
        [
            ("chunk-1-00001.m4s?loop=0".to_owned(), 0),
            ("chunk-1-00002.m4s?loop=0".to_owned(), 3)
        ]
    );
    assert!(text.contains("<Title>a &amp; b</Title>"), "{text}");
    assert!(text.contains("xsi:schemaLocation="), "{text}");
    assert!(text.contains("urn:mpeg:dash:utc:direct:2014"), "{text}");
}

#[test]
fn segments_appear_in_real_time_and_slide_out() {
    // Edge 5.99 s: the third video segment (4..6 s) has not ended yet.
    let (_, mpd) = live_at(2, 1.79);
    assert_eq!(
        listed(&mpd, "0", 1.79).last().unwrap().0,
        "chunk-0-00002.m4s?loop=0"
    );
    let (_, mpd) = live_at(2, 1.81);
    assert_eq!(
        listed(&mpd, "0", 1.81).last().unwrap().0,
        "chunk-0-00003.m4s?loop=0"
    );
    // Edge 6.41 s: the first one (ended at 2 s) is older than the 4.2 s window.
    let (text, mpd) = live_at(2, 2.21);
    let v = listed(&mpd, "0", 2.21);
    assert_eq!(v.first().unwrap().0, "chunk-0-00002.m4s?loop=0");
    assert!(text.contains("startNumber=\"2\""), "{text}");
}

#[test]
fn each_loop_is_a_period_with_its_own_urls_and_ids() {
    // Edge at 4.2 + 4 = 8.2 s: loop 1 (6..12 s) has its first video segment (6..8 s).
    let (_, mpd) = live_at(2, 4.0);
    assert_eq!(mpd.periods.len(), 2);
    assert_eq!(mpd.periods[1].start, 6.0);
    assert_eq!(mpd.streams().len(), 2);
    let v = listed(&mpd, "0", 4.0);
    assert_eq!(
        v,
        [
            ("chunk-0-00003.m4s?loop=0".to_owned(), 8),
            ("chunk-0-00001.m4s?loop=1".to_owned(), segment_id(6.0))
        ]
    );
    // Many loops later the periods and ids keep counting.
    let (_, mpd) = live_at(2, 6.0 * 100.0);
    assert!(mpd.periods.iter().all(|p| p.start >= 6.0 * 100.0));
    let v = listed(&mpd, "0", 600.0);
    assert!(
        v.iter()
            .all(|(u, id)| u.ends_with("loop=100") && *id >= 1200),
        "{v:?}"
    );
}

#[test]
fn refuses_what_it_cannot_loop() {
    for (mpd, why) in [
        ("<MPD", "XML"),
        ("<MPD type=\"dynamic\"/>", "static"),
        ("<MPD type=\"static\"><Period/><Period/></MPD>", "single-period"),
        ("<MPD type=\"static\"><Period/></MPD>", "mediaPresentationDuration"),
        ("<MPD mediaPresentationDuration=\"PT6S\"><Period><AdaptationSet><Representation id=\"a\"><SegmentBase indexRange=\"0-9\"/></Representation></AdaptationSet></Period></MPD>", "SegmentTemplate addressing"),
        ("<MPD mediaPresentationDuration=\"PT6S\"><Period><AdaptationSet><SegmentTemplate media=\"x\"/></AdaptationSet></Period></MPD>", "neither"),
    ] {
        let e = DashLoop::new(mpd, 3).unwrap_err().to_string();
        assert!(e.contains(why), "{mpd}: {e}");
    }
}

#[test]
fn digests_cover_what_the_mpds_of_the_last_window_listed() {
    let l = DashLoop::new(VOD, 1).unwrap();
    let names = |elapsed: f64| l.listed_files(STARTED, STARTED + elapsed);
    // Edge 4.1 s with a 2.1 s window: the second segments now, the first ones before.
    assert_eq!(
        names(2.0),
        [
            "chunk-0-00001.m4s",
            "chunk-0-00002.m4s",
            "chunk-1-00001.m4s",
            "chunk-1-00002.m4s"
        ]
        .map(str::to_owned)
        .into()
    );
    // Whatever an MPD up to one window old listed is covered, across loops and as periods
    // appear.
    for i in 0..60 {
        let elapsed = f64::from(i) * 0.37;
        let covered = names(elapsed);
        for back in (0..=21).map(|b| f64::from(b) * 0.1) {
            let (text, mpd) = live_at(1, elapsed - back);
            for rep in ["0", "1"] {
                for (url, _) in listed(&mpd, rep, elapsed - back) {
                    let name = url.split('?').next().unwrap();
                    assert!(covered.contains(name), "{name} at {elapsed} s\n{text}");
                }
            }
        }
    }
}

#[test]
fn digests_list_only_files_beside_the_mpd() {
    let vod = VOD.replace("media=\"chunk-", "media=\"media/chunk-");
    let l = DashLoop::new(&vod, 2).unwrap();
    assert!(l.listed_files(STARTED, STARTED + 10.0).is_empty());
}
