//! Hub settings follow Python's `huggingface_hub` environment-variable rules.

use std::path::PathBuf;

use provence_hub::HubOptions;

#[test]
fn options_follow_python_environment_rules() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned())
    };
    let o = HubOptions::from_vars(env(&[
        ("HF_HOME", "/hf"),
        ("HF_ENDPOINT", "http://mirror.local/"),
        ("HF_TOKEN", "abc"),
        ("HF_HUB_OFFLINE", "1"),
    ]));
    assert_eq!(o.cache_dir, PathBuf::from("/hf/hub"));
    assert_eq!(o.endpoint, "http://mirror.local");
    assert_eq!(o.token.as_deref(), Some("abc"));
    assert!(o.offline);
    let o = HubOptions::from_vars(env(&[
        ("HF_HOME", "/hf"),
        ("HF_HUB_CACHE", "/elsewhere"),
        ("HF_HUB_OFFLINE", "0"),
    ]));
    assert_eq!(o.cache_dir, PathBuf::from("/elsewhere"));
    assert!(!o.offline);
    assert_eq!(o.endpoint, "https://huggingface.co");
    let o = HubOptions::from_vars(env(&[
        ("HOME", "/home/u"),
        ("HF_TOKEN", "x"),
        ("HF_HUB_DISABLE_IMPLICIT_TOKEN", "true"),
    ]));
    assert_eq!(o.cache_dir, PathBuf::from("/home/u/.cache/huggingface/hub"));
    assert_eq!(o.token, None);
}
