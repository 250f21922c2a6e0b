use super::*;

/// The shape `swarmcast media generate` writes (ffmpeg's DASH muxer), shortened.
const VOD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static"
	mediaPresentationDuration="PT1M0.0S" maxSegmentDuration="PT2.0S" minBufferTime="PT4.0S">
	<Period id="0" start="PT0.0S">
		<AdaptationSet id="0" contentType="video" startWithSAP="1" lang="und">
			<Representation id="0" mimeType="video/mp4" codecs="avc1.4d401f" bandwidth="2504380" width="1280" height="720">
				<SegmentTemplate timescale="15360" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline><S t="0" d="30720" r="29" /></SegmentTimeline>
				</SegmentTemplate>
			</Representation>
			<Representation id="2" mimeType="video/mp4" codecs="avc1.4d401e" bandwidth="501661" width="640" height="360">
				<SegmentTemplate timescale="15360" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline><S t="0" d="30720" r="29" /></SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
		<AdaptationSet id="1" contentType="audio" lang="und">
			<Representation id="3" mimeType="audio/mp4" codecs="mp4a.40.2" bandwidth="127999" audioSamplingRate="48000">
				<SegmentTemplate timescale="48000" initialization="init-$RepresentationID$.m4s" media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1">
					<SegmentTimeline><S t="0" d="93184" /><S d="96256" r="1" /><S d="95232" /></SegmentTimeline>
				</SegmentTemplate>
			</Representation>
		</AdaptationSet>
	</Period>
</MPD>"#;

#[test]
fn streams_are_numbered_per_type_in_mpd_order() {
    let mpd = Mpd::parse(VOD, "http://o/dash/manifest.mpd").unwrap();
    assert!(!mpd.live);
    assert_eq!(mpd.duration, Some(60.0));
    let s = mpd.streams();
    let summary: Vec<(StreamType, usize, &str)> = s
        .iter()
        .map(|s| (s.stream_type, s.index, s.representation.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            (StreamType::Main, 0, "0"),
            (StreamType::Main, 1, "2"),
            (StreamType::Secondary, 0, "3")
        ]
    );
}

#[test]
fn timeline_template_segments_and_ids() {
    let mpd = Mpd::parse(VOD, "http://o/dash/manifest.mpd?token=x").unwrap();
    let v = mpd.segments("0", 0.0).unwrap();
    assert_eq!(v.segments.len(), 30);
    assert_eq!(v.segments[0].url, "http://o/dash/chunk-0-00001.m4s");
    assert_eq!(v.segments[29].url, "http://o/dash/chunk-0-00030.m4s");
    let ids: Vec<i64> = v.segments.iter().take(3).map(|s| s.id).collect();
    assert_eq!(ids, [0, 4, 8]);
    let a = mpd.segments("3", 0.0).unwrap().segments;
    let starts: Vec<(i64, String)> = a
        .iter()
        .map(|s| (s.id, format!("{:.3}", s.start)))
        .collect();
    assert_eq!(
        starts,
        [
            (0, "0.000".into()),
            (3, "1.941".into()),
            (7, "3.947".into()),
            (11, "5.952".into())
        ]
    );
}

#[test]
fn time_templates_and_presentation_time_offset() {
    let text = r#"<MPD type="static" mediaPresentationDuration="PT6S"><Period>
        <AdaptationSet mimeType="video/mp4"><BaseURL>v/</BaseURL>
          <SegmentTemplate timescale="1000" presentationTimeOffset="10000" media="$RepresentationID$/t$Time$-$Bandwidth$.m4s$$">
            <SegmentTimeline><S t="10000" d="2000" r="-1"/></SegmentTimeline></SegmentTemplate>
          <Representation id="hd" bandwidth="900"/></AdaptationSet></Period></MPD>"#;
    let mpd = Mpd::parse(text, "http://o/m/x.mpd").unwrap();
    let s = mpd.segments("hd", 0.0).unwrap().segments;
    assert_eq!(s.len(), 3);
    assert_eq!(s[1].url, "http://o/m/v/hd/t12000-900.m4s$");
    assert_eq!((s[1].start, s[1].id), (2.0, 4));
}

#[test]
fn number_templates_of_a_live_mpd_follow_the_clock() {
    let text = r#"<MPD type="dynamic" availabilityStartTime="2020-01-01T00:00:00Z" timeShiftBufferDepth="PT10S">
        <Period id="p" start="PT100S"><AdaptationSet contentType="audio">
          <SegmentTemplate timescale="10" duration="20" startNumber="5" media="a-$Number$.mp4"/>
          <Representation id="a" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    let mpd = Mpd::parse(text, "http://o/l.mpd").unwrap();
    assert!(mpd.live);
    assert_eq!(mpd.streams()[0].stream_type, StreamType::Main);
    let start = mpd.availability_start;
    assert_eq!(start, 1_577_836_800.0);
    // 31 s into the period: segments 0..=14 have ended; the last 10 s are kept.
    let s = mpd.segments("a", start + 131.0).unwrap().segments;
    let numbers: Vec<&str> = s.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(numbers.first(), Some(&"http://o/a-15.mp4"));
    assert_eq!(numbers.last(), Some(&"http://o/a-19.mp4"));
    assert_eq!(s.last().unwrap().id, segment_id(100.0 + 28.0));
    // Before the period starts nothing is published.
    assert!(mpd.segments("a", start + 50.0).unwrap().segments.is_empty());
}

#[test]
fn live_timelines_list_only_what_has_ended() {
    let text = r#"<MPD type="dynamic" availabilityStartTime="1970-01-01T00:00:00Z">
        <Period start="PT0S"><AdaptationSet contentType="video">
          <SegmentTemplate timescale="1" media="s$Number$.m4s" startNumber="10">
            <SegmentTimeline><S t="20" d="2" r="3"/></SegmentTimeline></SegmentTemplate>
          <Representation id="v" bandwidth="1"/></AdaptationSet></Period></MPD>"#;
    let mpd = Mpd::parse(text, "http://o/l.mpd").unwrap();
    let s = mpd.segments("v", 25.0).unwrap().segments;
    let urls: Vec<&str> = s.iter().map(|s| s.url.as_str()).collect();
    assert_eq!(urls, ["http://o/s10.m4s", "http://o/s11.m4s"]);
}

#[test]
fn segment_lists_with_ranges_and_multi_period_ids() {
    let text = r#"<MPD type="static" mediaPresentationDuration="PT8S">
        <Period id="a" duration="PT4S"><AdaptationSet contentType="video">
          <Representation id="v" bandwidth="1"><BaseURL>media.mp4</BaseURL>
            <SegmentList timescale="1" duration="2">
              <SegmentURL mediaRange="100-199"/><SegmentURL mediaRange="200-249"/></SegmentList></Representation>
        </AdaptationSet></Period>
        <Period id="b"><AdaptationSet contentType="video">
          <Representation id="v" bandwidth="1">
            <SegmentList timescale="1" duration="2">
              <SegmentURL media="b1.m4s"/><SegmentURL media="b2.m4s"/></SegmentList></Representation>
        </AdaptationSet></Period></MPD>"#;
    let mpd = Mpd::parse(text, "http://o/d/m.mpd").unwrap();
    assert_eq!(mpd.periods[1].start, 4.0);
    assert_eq!(mpd.streams().len(), 1);
    let s = mpd.segments("v", 0.0).unwrap().segments;
    type Row<'a> = (i64, &'a str, Option<(u64, u64)>);
    let got: Vec<Row> = s
        .iter()
        .map(|s| (s.id, s.url.as_str(), s.byte_range))
        .collect();
    assert_eq!(
        got,
        [
            (0, "http://o/d/media.mp4", Some((100, 100))),
            (4, "http://o/d/media.mp4", Some((200, 50))),
            (8, "http://o/d/b1.m4s", None),
            (12, "http://o/d/b2.m4s", None),
        ]
    );
}

#[test]
fn segment_base_goes_through_the_sidx() {
    let text = r#"<MPD type="static" mediaPresentationDuration="PT4S"><Period start="PT10S">
        <AdaptationSet contentType="audio"><Representation id="a" bandwidth="1"><BaseURL>a.mp4</BaseURL>
          <SegmentBase indexRange="800-899" timescale="1000" presentationTimeOffset="500"/></Representation>
        </AdaptationSet></Period></MPD>"#;
    let mpd = Mpd::parse(text, "http://o/m.mpd").unwrap();
    let listing = mpd.segments("a", 0.0).unwrap();
    assert!(listing.segments.is_empty());
    let index = &listing.indexes[0];
    assert_eq!(
        (index.url.as_str(), index.range),
        ("http://o/a.mp4", (800, 100))
    );
    let sidx = sidx_box(1000, 500, 0, &[(100, 2000), (50, 2000)]);
    let s = segments_from_index(index, &sidx).unwrap();
    let end = 800 + sidx.len() as u64;
    assert_eq!(s[0].byte_range, Some((end, 100)));
    assert_eq!((s[1].start, s[1].id), (12.0, 24));
}

#[test]
fn templates_fill_identifiers() {
    assert_eq!(
        fill_template("a-$Number%05d$-$Time$.m4s", "r", 7, 3, 99),
        "a-00003-99.m4s"
    );
    assert_eq!(
        fill_template("$RepresentationID$_$Bandwidth%03d$", "x", 5, 0, 0),
        "x_005"
    );
    assert_eq!(fill_template("cost$$5", "x", 5, 0, 0), "cost$5");
    assert_eq!(fill_template("odd$Unknown", "x", 5, 0, 0), "odd$Unknown");
}

#[test]
fn durations() {
    assert_eq!(parse_duration("PT1M0.5S"), Some(60.5));
    assert_eq!(parse_duration("P1DT1H"), Some(90000.0));
    assert_eq!(parse_duration("PT2.000S"), Some(2.0));
    assert_eq!(parse_duration("2S"), None);
    assert_eq!(parse_duration("PT2"), None);
}

#[test]
fn malformed_mpds_are_errors_that_say_why() {
    let cases = [
        ("<MPD><Period", "XML"),
        ("<html/>", "root element"),
        ("<MPD type=\"static\"/>", "no Period"),
        ("<MPD type=\"dynamic\"><Period/></MPD>", "availabilityStartTime"),
        ("<MPD><Period><AdaptationSet contentType=\"video\"><Representation bandwidth=\"1\"/></AdaptationSet></Period></MPD>", "without id"),
        ("<MPD><Period><AdaptationSet><Representation id=\"a\" bandwidth=\"x\"/></AdaptationSet></Period></MPD>", "not a number"),
        ("<MPD mediaPresentationDuration=\"soon\"><Period/></MPD>", "not a duration"),
    ];
    for (text, why) in cases {
        let e = Mpd::parse(text, "http://o/m.mpd").unwrap_err().to_string();
        assert!(e.contains(why), "{text}: {e}");
    }
    let no_duration = "<MPD><Period><AdaptationSet contentType=\"video\"><Representation id=\"a\" bandwidth=\"1\"><SegmentTemplate media=\"x\"/></Representation></AdaptationSet></Period></MPD>";
    let mpd = Mpd::parse(no_duration, "http://o/m.mpd").unwrap();
    assert!(mpd.segments("a", 0.0).is_err());
}

#[test]
fn every_prefix_of_an_mpd_parses_or_fails_without_panicking() {
    for cut in (0..VOD.len()).step_by(7) {
        if let Ok(mpd) = Mpd::parse(&VOD[..cut], "http://o/m.mpd") {
            for s in mpd.streams() {
                let _ = mpd.segments(&s.representation, 0.0);
            }
        }
    }
}

/// A version-0 sidx box with the given (length, duration) references.
fn sidx_box(timescale: u32, earliest: u32, first_offset: u32, refs: &[(u32, u32)]) -> Vec<u8> {
    let mut body = vec![0u8; 4]; // version 0, flags
    body.extend(1u32.to_be_bytes());
    body.extend(timescale.to_be_bytes());
    body.extend(earliest.to_be_bytes());
    body.extend(first_offset.to_be_bytes());
    body.extend([0, 0]);
    body.extend((refs.len() as u16).to_be_bytes());
    for (len, dur) in refs {
        body.extend(len.to_be_bytes());
        body.extend(dur.to_be_bytes());
        body.extend(0x9000_0000u32.to_be_bytes());
    }
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend(b"sidx");
    out.extend(body);
    out
}
