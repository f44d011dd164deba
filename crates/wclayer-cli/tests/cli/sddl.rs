//! `wclayer sddl`: security descriptors between base64 and SDDL.

use crate::{USERS_SD, stdout_of, wclayer};

#[test]
fn sddl_of_the_users_descriptor_and_back() {
    assert_eq!(stdout_of(&["sddl", USERS_SD]), "O:BUG:BU\n");
    assert_eq!(
        stdout_of(&["sddl", "--to-binary", "O:BUG:BU"]),
        format!("{USERS_SD}\n")
    );
}

#[test]
fn sddl_real_world_descriptor_round_trips() {
    let sddl =
        "O:BAG:SYD:PAI(A;OICI;FA;;;BA)(A;OICI;FA;;;SY)(A;OICIIO;GA;;;CO)(A;OICI;0x1200a9;;;BU)";
    let b64 = stdout_of(&["sddl", "--to-binary", sddl]);
    assert_eq!(stdout_of(&["sddl", b64.trim()]).trim(), sddl);
}

#[test]
fn sddl_bad_input_is_a_one_line_error() {
    for args in [
        &["sddl", "not base64!"][..],
        &["sddl", "AAAA"],
        &["sddl", "--to-binary", "O:BAG:SYD:(A;;FA;;;XX)"],
        &["sddl", "--to-binary", "O:BAG:SYD:(A;;FA;;;BA"],
    ] {
        let out = wclayer().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("wclayer: error: "), "{err}");
    }
}
