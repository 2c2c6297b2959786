//! The shapes world end to end: rendering, captions and their parser, the tokenizer, the
//! samplers, held-out combinations and the evaluation prompt sets.

use data::shapes::prompts::family_meanings;
use data::shapes::sampler::{is_heldout_pair, is_heldout_relation};
use data::shapes::tokenizer::{CLS, PAD, VOCAB};
use data::shapes::*;
use data::Error;
use std::collections::HashSet;

fn scene_of(text: &str, seed: u64) -> (Prompt, Scene) {
    let prompt = Prompt::parse(text).unwrap();
    let scene = SceneSampler::default().scene_for(&prompt, &mut ShapesRng::new(seed)).unwrap();
    (prompt, scene)
}

#[test]
fn renders_are_deterministic_in_range_and_any_size() {
    let sampler = SceneSampler::default();
    for i in 0..50 {
        let (_, scene) = sampler.sample_pair_at(7, i).unwrap();
        assert!(scene.is_valid());
        let a = render(&scene, 32, 32).unwrap();
        let b = render(&sampler.sample_pair_at(7, i).unwrap().1, 32, 32).unwrap();
        assert_eq!(a, b, "same seed, same bits");
        assert_eq!(a.len(), 3 * 32 * 32);
        assert!(a.iter().all(|v| (-1.0..=1.0).contains(v)));
        // Corner pixel is background: the border margin keeps objects off the edge.
        let bg = background_value();
        assert_eq!([a[0], a[1024], a[2048]], bg);
    }
    let (_, scene) = scene_of("a red square", 1);
    for (h, w) in [(16, 16), (24, 24), (64, 64), (20, 48)] {
        let img = render(&scene, h, w).unwrap();
        assert_eq!(img.len(), 3 * h * w);
        let red = Colour::Red.value();
        let full = (0..h * w).filter(|&i| (0..3).all(|c| img[c * h * w + i] == red[c])).count();
        assert!(full > 0, "{h}x{w}: some pixel fully covered");
    }
    let t = render_batch(&[scene.clone(), scene.clone()], 32, 32).unwrap();
    assert_eq!(t.shape(), &[2, 3, 32, 32]);
    assert_eq!(t.to_vec::<f32>().unwrap()[..3072], render(&scene, 32, 32).unwrap()[..]);
    assert!(matches!(render(&scene, 0, 32), Err(Error::InvalidArgument { .. })));
    assert!(matches!(render_with(&scene, 32, 32, 0), Err(Error::InvalidArgument { .. })));
    // Antialiasing: without supersampling every pixel is either background or a palette colour.
    let hard = render_with(&scene, 32, 32, 1).unwrap();
    let soft = render(&scene, 32, 32).unwrap();
    let distinct = |img: &[f32]| img[..1024].iter().map(|v| v.to_bits()).collect::<HashSet<_>>().len();
    assert_eq!(distinct(&hard), 2);
    assert!(distinct(&soft) > 2);
}

/// Every meaning the grammar can express: all families, with and without colours, all counts.
fn all_meanings() -> Vec<Meaning> {
    let mut out = Vec::new();
    let colours: Vec<Option<Colour>> = std::iter::once(None).chain(Colour::ALL.map(Some)).collect();
    for s in Shape::ALL {
        for &c in &colours {
            for n in 1..=4 {
                out.push(Meaning::single(s, c, n));
            }
        }
    }
    for a in Shape::ALL {
        for b in Shape::ALL.into_iter().filter(|&b| b != a) {
            for &ca in &colours {
                for (j, &cb) in colours.iter().step_by(3).enumerate() {
                    for r in [
                        None,
                        Some(Relation::LeftOf),
                        Some(Relation::RightOf),
                        Some(Relation::Above),
                        Some(Relation::Below),
                    ] {
                        // Counts 1–3 and 1–2: up to five objects, beyond what a scene holds.
                        let (n1, n2) = (1 + ca.map_or(0, |c| c.index()) % 3, 1 + j % 2);
                        out.push(Meaning::pair(
                            Clause { shape: a, colour: ca, count: n1 },
                            Clause { shape: b, colour: cb, count: n2 },
                            r,
                        ));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_phrasing_of_every_meaning_parses_back() {
    let tok = Tokenizer::default();
    let mut texts = 0;
    let mut families = HashSet::new();
    for m in all_meanings() {
        families.insert(m.family());
        let mut seen = HashSet::new();
        for p in Phrasing::all() {
            let text = m.caption(&p);
            if !seen.insert(text.clone()) {
                continue;
            }
            texts += 1;
            let parsed = Prompt::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.meaning, m, "{text}");
            assert_eq!(parsed.text, text);
            let enc = tok.encode(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(tok.decode(&enc.ids), text);
        }
    }
    assert_eq!(families.len(), 6);
    assert!(texts > 5000, "{texts}");
    // Spot checks of the documented phrasings and families.
    for (text, family) in [
        ("a circle", Family::SingleObject),
        ("One Circle.", Family::SingleObject),
        ("a photo of a circle and a square", Family::TwoObject),
        ("three green triangles", Family::Counting),
        ("an image of four crosses", Family::Counting),
        ("a red circle", Family::Colors),
        ("a red circle to the left of a blue square", Family::Position),
        ("a red circle left of a blue square", Family::Position),
        ("a circle on the right of a square", Family::Position),
        ("a cross beneath a triangle", Family::Position),
        ("a red square and a green circle", Family::ColorAttr),
    ] {
        assert_eq!(Prompt::parse(text).unwrap().family(), family, "{text}");
    }
    let a = Prompt::parse("a red circle to the left of a blue square").unwrap().meaning;
    assert_eq!(a, Prompt::parse("one red circle left of one blue square").unwrap().meaning);
    assert_eq!(a.relation, Some(Relation::LeftOf));
}

/// Every meaning gets a valid scene, except that more than four objects are refused, and a
/// relation over four objects ("two circles left of two squares") rarely fits in the image: both
/// are typed errors. Everything up to three objects always fits.
#[test]
fn every_meaning_that_fits_has_a_scene() {
    let sampler = SceneSampler { exclude_heldout: false, ..SceneSampler::default() };
    let (mut n, mut unplaced) = (0, 0);
    for (k, m) in all_meanings().into_iter().enumerate() {
        let p = Prompt::from_meaning(m, &Phrasing::default()).unwrap();
        for seed in 0..3 {
            let result = sampler.scene_for(&p, &mut ShapesRng::for_item(seed, k as u64));
            let objects = p.meaning.object_count();
            if objects > MAX_OBJECTS {
                assert!(matches!(result, Err(Error::TooManyObjects { .. })), "{p}");
                continue;
            }
            if objects == MAX_OBJECTS && p.meaning.relation.is_some() {
                if let Err(e) = &result {
                    assert!(matches!(e, Error::PlacementFailed { .. }), "{p}: {e}");
                    unplaced += 1;
                    continue;
                }
            }
            let scene = result.unwrap_or_else(|e| panic!("{e}"));
            assert!(scene.is_valid() && scene.objects.len() == p.meaning.object_count(), "{p}");
            if let (Some(r), [a, b]) = (p.meaning.relation, p.meaning.clauses.as_slice()) {
                for x in scene.objects.iter().filter(|o| o.shape == a.shape) {
                    for y in scene.objects.iter().filter(|o| o.shape == b.shape) {
                        assert!(r.strength(&x.placed(), &y.placed()) >= 0.6, "{p}");
                    }
                }
            }
            n += 1;
        }
    }
    println!("{n} scenes placed; {unplaced} four-object relations did not fit");
    assert!(n > 2000, "{n}");
}

#[test]
fn grammar_errors_say_what_is_wrong() {
    let msg = |t: &str| Prompt::parse(t).unwrap_err().to_string();
    assert!(msg("three circle").contains("plural \"circles\""));
    assert!(msg("a circles").contains("singular \"circle\""));
    assert!(msg("a red circle and a blue circle").contains("different shapes"));
    assert!(msg("red circle").contains("number word"));
    assert!(msg("a red").contains("a shape"));
    assert!(msg("a circle square").contains("\"and\" or a relation"));
    assert!(msg("a circle and a square and a cross").contains("after the second object"));
    assert!(msg("a circle to the above a square").contains("relation"));
    assert!(matches!(Prompt::parse("  ,. "), Err(Error::EmptyPrompt)));
    assert!(matches!(Prompt::parse("a rde circle"), Err(Error::UnknownWord { .. })));
}

#[test]
fn tokenizer_pads_and_reports_unknown_empty_and_long_prompts() {
    let tok = Tokenizer::default();
    let e = tok.encode("A red circle").unwrap();
    assert_eq!(e.len, 4);
    assert_eq!(e.ids.len(), 16);
    assert_eq!(e.ids[0], CLS);
    assert!(e.ids[4..].iter().all(|&i| i == PAD));
    assert_eq!(VOCAB[e.ids[2] as usize], "red");
    match tok.encode("a blu circle") {
        Err(Error::UnknownWord { word, suggestions }) => {
            assert_eq!(word, "blu");
            assert_eq!(suggestions[0], "blue");
            let text = tok.encode("a blu circle").unwrap_err().to_string();
            assert!(text.contains("\"blu\"") && text.contains("blue"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    match tok.encode("a red trangle") {
        Err(Error::UnknownWord { suggestions, .. }) => assert_eq!(suggestions[0], "triangle"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(tok.encode(""), Err(Error::EmptyPrompt)));
    assert!(matches!(tok.encode("   \t "), Err(Error::EmptyPrompt)));
    let long = vec!["circle"; 16].join(" ");
    assert!(matches!(tok.encode(&long), Err(Error::PromptTooLong { words: 16, max: 15, .. })));
    assert!(Tokenizer::new(1).is_err());
    let (ids, mask) = tok.encode_batch(&["a circle", "two red squares"]).unwrap();
    assert_eq!(ids.shape(), &[2, 16]);
    assert_eq!(mask.to_vec::<u8>().unwrap()[..5], [1, 1, 1, 0, 0]);
    // The longest grammatical caption fits the default length.
    let longest = "a photo of a purple triangle to the left of a white square";
    assert_eq!(tok.encode(longest).unwrap().len, 14);
}

#[test]
fn heldout_combinations_never_appear_when_excluded() {
    let excl = SceneSampler { max_distractors: 2, ..SceneSampler::default() };
    let incl = SceneSampler { exclude_heldout: false, ..excl.clone() };
    let (mut caption_hits, mut object_hits) = (0, 0);
    for i in 0..4000 {
        let (p, s) = excl.sample_pair_at(5, i).unwrap();
        assert!(p.meaning.heldout().is_none(), "{p}");
        assert!(s.objects.iter().all(|o| !is_heldout_pair(o.colour, o.shape)), "{p}: {s:?}");
        let u = excl.sample_unconditional_at(6, i);
        assert!(u.objects.iter().all(|o| !is_heldout_pair(o.colour, o.shape)));
        let (p, s) = incl.sample_pair_at(5, i).unwrap();
        caption_hits += p.meaning.heldout().is_some() as usize;
        object_hits += s.objects.iter().any(|o| is_heldout_pair(o.colour, o.shape)) as usize;
    }
    assert!(caption_hits > 50 && object_hits > 200, "{caption_hits} {object_hits}");
    // A held-out prompt is refused, with the combination named.
    let p = Prompt::parse("a circle above a triangle").unwrap();
    assert!(is_heldout_relation(Shape::Triangle, Relation::Below, Shape::Circle));
    let err = excl.scene_for(&p, &mut ShapesRng::new(0)).unwrap_err();
    assert!(matches!(err, Error::HeldOut { .. }), "{err}");
    assert!(incl.scene_for(&p, &mut ShapesRng::new(0)).is_ok());
    let p = Prompt::parse("four circles and one square").unwrap();
    assert!(matches!(excl.scene_for(&p, &mut ShapesRng::new(0)), Err(Error::TooManyObjects { objects: 5, .. })));
}

#[test]
fn samplers_are_deterministic_and_scenes_hold_what_captions_say() {
    let sampler = SceneSampler { max_distractors: 1, ..SceneSampler::default() };
    let mut families = HashSet::new();
    for i in 0..500 {
        let (p, s) = sampler.sample_pair_at(9, i).unwrap();
        assert_eq!((p.clone(), s.clone()), sampler.sample_pair_at(9, i).unwrap());
        assert_eq!(Prompt::parse(&p.text).unwrap(), p);
        families.insert(p.family());
        assert!(s.is_valid() && !s.objects.is_empty() && s.objects.len() <= MAX_OBJECTS);
        for c in &p.meaning.clauses {
            let of_shape: Vec<&Object> = s.objects.iter().filter(|o| o.shape == c.shape).collect();
            assert_eq!(of_shape.len(), c.count, "{p}");
            if let Some(col) = c.colour {
                assert!(of_shape.iter().all(|o| o.colour == col), "{p}");
            }
        }
    }
    assert_eq!(families.len(), 6);
    assert_ne!(sampler.sample_pair_at(9, 0).unwrap(), sampler.sample_pair_at(10, 0).unwrap());
}

#[test]
fn prompt_sets_are_deterministic_deduplicated_and_split() {
    let g = prompt_set("geneval").unwrap();
    assert_eq!(g, prompt_set("geneval").unwrap());
    let texts: HashSet<&str> = g.prompts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts.len(), g.prompts.len(), "no duplicates");
    let counts = g.family_counts();
    let want = [
        (Family::SingleObject, 32),
        (Family::TwoObject, 90),
        (Family::Counting, 48),
        (Family::Colors, 90),
        (Family::Position, 90),
        (Family::ColorAttr, 90),
    ];
    assert_eq!(counts.into_iter().collect::<Vec<_>>(), want);
    for p in &g.prompts {
        assert_eq!(&Prompt::parse(&p.text).unwrap(), p, "the text parses to its meaning");
        assert!(p.meaning.heldout().is_none());
        assert!(p.meaning.object_count() <= MAX_OBJECTS);
    }
    // Each family covers every meaning before repeating one.
    for f in Family::ALL {
        let ms: HashSet<Meaning> = g.prompts.iter().filter(|p| p.family() == f).map(|p| p.meaning.clone()).collect();
        let total = family_meanings(f).into_iter().filter(|m| m.heldout().is_none()).count();
        assert_eq!(ms.len(), total.min(counts_of(&g, f)), "{f:?}");
    }
    let h = prompt_set("geneval_heldout").unwrap();
    assert!(h.heldout && !g.heldout);
    assert!(h.prompts.iter().all(|p| p.meaning.heldout().is_some()));
    assert_eq!(
        h.family_counts().keys().copied().collect::<Vec<_>>(),
        [Family::Colors, Family::Position, Family::ColorAttr]
    );
    assert!(h.prompts.iter().all(|p| !texts.contains(p.text.as_str())));
    let s = prompt_set("geneval_small").unwrap();
    for f in Family::ALL {
        let small: Vec<&Prompt> = s.prompts.iter().filter(|p| p.family() == f).collect();
        let big: Vec<&Prompt> = g.prompts.iter().filter(|p| p.family() == f).take(16).collect();
        assert_eq!(small, big, "{f:?}");
    }
    assert!(matches!(prompt_set("genevel"), Err(Error::UnknownName { .. })));
    // Every prompt of every set has a scene.
    let sampler = SceneSampler { exclude_heldout: false, ..SceneSampler::default() };
    for (k, p) in g.prompts.iter().chain(&h.prompts).enumerate() {
        sampler.scene_for(p, &mut ShapesRng::for_item(1, k as u64)).unwrap();
    }
}

fn counts_of(set: &PromptSet, f: Family) -> usize {
    set.prompts.iter().filter(|p| p.family() == f).count()
}

#[test]
fn class_conditional_variant() {
    assert_eq!((NUM_CLASSES, NULL_CLASS), (24, 24));
    let mut seen = HashSet::new();
    for i in 0..300 {
        let (class, scene) = sample_class_pair_at(3, i).unwrap();
        assert_eq!(scene.objects.len(), 1);
        assert_eq!(class_of(scene.objects[0].shape, scene.objects[0].colour), class);
        assert!(scene.is_valid());
        seen.insert(class);
    }
    assert_eq!(seen.len(), 24);
    let null = sample_class_scene(NULL_CLASS, &mut ShapesRng::new(1)).unwrap();
    assert_eq!(null.objects.len(), 1);
    assert!(sample_class_scene(25, &mut ShapesRng::new(1)).is_err());
    assert_eq!(class_prompt(class_from_name("blue cross").unwrap()).unwrap().family(), Family::Colors);
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_strings_are_errors_or_values_never_panics(s in ".{0,80}") {
            let tok = Tokenizer::default();
            let _ = tok.encode(&s);
            let _ = Prompt::parse(&s);
        }

        #[test]
        fn random_word_sequences_parse_or_fail_cleanly(idx in proptest::collection::vec(2usize..VOCAB.len(), 0..16)) {
            let text: Vec<&str> = idx.iter().map(|&i| VOCAB[i]).collect();
            let text = text.join(" ");
            match Prompt::parse(&text) {
                Ok(p) => {
                    prop_assert!(p.meaning.validate().is_ok());
                    prop_assert_eq!(Prompt::parse(&p.text).unwrap(), p);
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            let _ = Tokenizer::default().encode(&text);
        }
    }
}
