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

/// `sddl --to-binary` writes the canonical layout of docs/ea-reparse-sd.md §3.1: header,
/// owner, group, SACL, DACL back to back (the tar import of legacy `MSWINDOWS.sd` writes
/// Windows' converter's order instead, docs/compat.md).
#[test]
fn sddl_to_binary_writes_owner_group_sacl_dacl() {
    use base64::Engine as _;
    let b64 = stdout_of(&[
        "sddl",
        "--to-binary",
        "O:BAG:SYD:(A;;FA;;;BA)S:(AU;SA;FA;;;WD)",
    ]);
    let got = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap();
    // Revision 1, control SE_SELF_RELATIVE | SE_SACL_PRESENT | SE_DACL_PRESENT; offsets of
    // owner (20), group (36), SACL (48), DACL (76).
    let header = "01001480 14000000 24000000 30000000 4c000000";
    let owner_ba = "01020000000000052000000020020000";
    let group_sy = "010100000000000512000000";
    let sacl = "02001c0001000000 02401400ff011f00 010100000000000100000000";
    let dacl = "0200200001000000 00001800ff011f00 01020000000000052000000020020000";
    let want = [header, owner_ba, group_sy, sacl, dacl]
        .concat()
        .replace(' ', "");
    assert_eq!(hex::encode(got), want);
}
