"""Host-list expressions: expansion, membership without expansion, compression."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cc_backend.domain.errors import InvalidInput
from cc_backend.domain.hostlist import HostList, compress, expand

FRITZ_MAIN = (
    "f[0101-0188,0201-0288,0301-0388,0401-0488,0501-0588,0601-0688,"
    "0701-0788,0801-0888,0901-0988,1001-1088,1101-1156,1201-1256]"
)


class TestExpand:
    def test_a_range_keeps_its_zero_padding(self) -> None:
        assert expand("w11[01-03]") == ["w1101", "w1102", "w1103"]
        assert expand("n[08-10]") == ["n08", "n09", "n10"]

    def test_several_ranges_in_one_bracket_group(self) -> None:
        assert expand("f[0101-0102,0201-0202]") == ["f0101", "f0102", "f0201", "f0202"]

    def test_terms_outside_brackets_are_comma_separated(self) -> None:
        assert expand("a[0101-0104],a0106") == ["a0101", "a0102", "a0103", "a0104", "a0106"]
        assert expand("login,node1") == ["login", "node1"]

    def test_single_numbers_inside_brackets(self) -> None:
        assert expand("n[01,03-04]") == ["n01", "n03", "n04"]

    def test_several_bracket_groups_form_a_product(self) -> None:
        assert expand("r[01-02]n[1-2]") == ["r01n1", "r01n2", "r02n1", "r02n2"]

    def test_literal_text_after_a_group(self) -> None:
        assert expand("a[1-2]-ib") == ["a1-ib", "a2-ib"]

    def test_the_empty_expression_names_no_host(self) -> None:
        hosts = HostList("")
        assert expand("") == []
        assert len(hosts) == 0
        assert not hosts
        assert "a" not in hosts

    def test_fritz_main_has_992_nodes(self) -> None:
        assert len(expand(FRITZ_MAIN)) == 992
        assert len(HostList(FRITZ_MAIN)) == 992


class TestMembership:
    hosts = HostList(FRITZ_MAIN)

    @pytest.mark.parametrize("name", ["f0101", "f0188", "f0501", "f1156", "f1256"])
    def test_hosts_inside_the_ranges(self, name: str) -> None:
        assert name in self.hosts

    @pytest.mark.parametrize(
        "name",
        [
            "f0100",
            "f0189",
            "f1157",
            "f1300",
            "f101",
            "f00101",
            "f0101x",
            "g0101",
            "",
            "f\u0660\u0661\u0660\u0661",
        ],
    )
    def test_hosts_outside_the_ranges_or_with_another_width(self, name: str) -> None:
        assert name not in self.hosts

    def test_non_strings_are_not_members(self) -> None:
        assert 101 not in self.hosts

    def test_membership_and_length_do_not_expand(self) -> None:
        huge = HostList("n[000000000-999999999],m[0000000000-9999999999]")
        assert "n123456789" in huge
        assert "m0000000001" in huge
        assert "n12345678" not in huge
        assert len(huge) == 10**9 + 10**10

    def test_ranges_of_different_widths_in_one_group(self) -> None:
        hosts = HostList("n[1-9,10-12]")
        assert "n7" in hosts
        assert "n11" in hosts
        assert "n07" not in hosts
        assert "n13" not in hosts

    def test_product_membership(self) -> None:
        hosts = HostList("r[01-02]n[1-2]")
        assert "r02n1" in hosts
        assert "r03n1" not in hosts
        assert "r01n3" not in hosts

    def test_the_wildcard_matches_every_host_but_cannot_be_listed(self) -> None:
        everything = HostList("*")
        assert everything.is_wildcard
        assert "anything" in everything
        assert everything
        with pytest.raises(InvalidInput):
            list(everything)
        with pytest.raises(InvalidInput):
            len(everything)


@pytest.mark.parametrize(
    ("expression", "position", "reason"),
    [
        ("a[01-02", 1, "unclosed '\\['"),
        ("a[01-02]]", 8, "unmatched '\\]'"),
        ("a[[01-02]]", 2, "nested '\\['"),
        ("a[]", 1, "empty brackets"),
        ("a[1-02]", 2, "differ in width"),
        ("a[02-01]", 2, "runs backwards"),
        ("a[0x-03]", 3, "invalid character 'x'"),
        ("a[01-]", 5, "missing number"),
        ("a[01,,03]", 5, "missing number"),
        ("a,,b", 2, "empty host name"),
        ("a,", 2, "empty host name"),
        (",a", 0, "empty host name"),
        ("a b", 1, "invalid character ' '"),
        ("a*", 1, "invalid character '\\*'"),
    ],
)
def test_malformed_expressions_name_the_position(
    expression: str, position: int, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=f"{reason}.* at position {position}$"):
        HostList(expression)


class TestCompress:
    def test_runs_become_ranges_and_lone_hosts_stay_plain(self) -> None:
        names = ["a0101", "a0102", "a0103", "a0106", "a0108", "a0109"]
        assert compress(names) == "a[0101-0103,0108-0109],a0106"

    def test_hosts_without_numbers_and_mixed_widths(self) -> None:
        assert compress(["login", "n1", "n2", "n01", "n02"]) == "login,n[1-2],n[01-02]"

    def test_duplicates_are_ignored(self) -> None:
        assert compress(["x1", "x1"]) == "x1"

    def test_nothing_compresses_to_the_empty_expression(self) -> None:
        assert compress([]) == ""

    def test_fritz_round_trip(self) -> None:
        assert sorted(expand(compress(expand(FRITZ_MAIN)))) == sorted(expand(FRITZ_MAIN))

    @pytest.mark.parametrize("bad", ["", "a,b", "a[1]", "a b"])
    def test_invalid_host_names_are_rejected(self, bad: str) -> None:
        with pytest.raises(InvalidInput):
            compress([bad])


HOSTNAMES = st.from_regex(re.compile(r"[a-c_.-]{0,3}[0-9]{0,4}[a-c]?[0-9]{0,3}"), fullmatch=True)


@given(st.lists(HOSTNAMES.filter(bool), max_size=40))
def test_compress_then_expand_gives_back_the_same_hosts(names: list[str]) -> None:
    expression = compress(names)
    hosts = HostList(expression)
    assert sorted(hosts) == sorted(set(names))
    assert len(hosts) == len(set(names))
    assert all(name in hosts for name in names)


@st.composite
def range_expressions(draw: st.DrawFn) -> str:
    width = draw(st.integers(1, 4))
    items = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, 10**width - 1))
        end = draw(st.integers(start, min(start + 20, 10**width - 1)))
        items.append(f"{start:0{width}d}-{end:0{width}d}")
    return f"{draw(st.sampled_from(['n', 'node', 'w11', 'r1-']))}[{','.join(items)}]"


@given(range_expressions())
def test_membership_agrees_with_expansion(expression: str) -> None:
    hosts = HostList(expression)
    names = expand(expression)
    assert len(hosts) == len(names)
    assert all(name in hosts for name in names)
    prefix = expression[: expression.index("[")]
    width = len(expression.split("[")[1].split("-", maxsplit=1)[0])
    listed = set(names)
    for number in range(10**width):
        candidate = f"{prefix}{number:0{width}d}"
        assert (candidate in hosts) == (candidate in listed)
