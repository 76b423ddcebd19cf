import pytest

from scalpvision.data import layout


def test_parse_real_file_names():
    t = layout.parse_file_name("0013_A2LEBJJDE00060O_1602578303771_2_TH.jpg")
    assert (t.code, t.serial, t.position, t.region) == ("0013", "A2LEBJJDE00060O", 2, "TH")
    assert t.group == "0013_A2LEBJJDE00060O"
    # 9-digit time stamps occur in the real tables
    assert layout.parse_file_name("8781_A2LEBJJDE000906_539482042_3_TH.jpg").epoch_ms == 539482042


@pytest.mark.parametrize("bad", ["0013_A2_1602578303771_4_TH.jpg", "x.jpg",
                                 "0013_A2LEB_1602578303771_7_BH.jpg"])
def test_bad_file_names_are_rejected_with_the_name(bad):
    with pytest.raises(ValueError, match=bad.split("_")[0]):
        layout.parse_file_name(bad)


def test_condition_folders_round_trip():
    name = layout.condition_folder("image", 1, 2)
    assert name == "[원천]1.미세각질_2.중등도"
    assert layout.parse_condition_folder(name) == (1, 2)
    assert layout.parse_condition_folder(layout.condition_folder("label", 6, 3)) == (6, 3)
    assert layout.parse_condition_folder("misc") is None


def test_targets_follow_the_merge_rule():
    v = {"value_1": 1, "value_2": 2, "value_3": 0, "value_4": 3, "value_5": 2, "value_6": 1}
    assert layout.derive_targets(v) == {"dandruff": 2, "sebum": 2, "erythema": 3, "alopecia": 1}
