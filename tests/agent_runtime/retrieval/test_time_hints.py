from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent_runtime.retrieval.time_hints import Window, window

NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    "query",
    [
        "What did Nate cook on 9 November, 2022?",
        "What did Nate cook on November 9, 2022?",
        "What did Nate cook on 9th of November 2022?",
        "what happened 2022-11-09",
        "What did Nate cook on Nov. 9, 2022?",
    ],
)
def test_a_named_day_spans_that_day_and_the_two_after(query: str) -> None:
    # told later: "yesterday I cooked..." is stamped the day after
    assert window(query, NOW) == Window(at("2022-11-09"), at("2022-11-12"))


def test_a_named_month_reaches_half_a_month_past_its_end() -> None:
    assert window("What did Joanna bake in May 2022?", NOW) == Window(
        at("2022-05-01"), at("2022-06-16")
    )


def test_a_year_or_a_month_alone_counts_only_after_a_preposition() -> None:
    assert window("Which records did John break in 2023?", NOW) == Window(
        at("2023-01-01"), at("2024-02-01")
    )
    assert window("Who won the 2023 final?", NOW) is None
    assert window("What did we cook in May?", NOW) == Window(at("2024-05-01"), at("2024-06-16"))
    assert window("What did we cook during August?", NOW) == Window(
        at("2023-08-01"), at("2023-09-16")
    )  # the latest August up to now
    assert window("What may Maria cook?", NOW) is None


def test_words_before_a_date_make_it_a_bound() -> None:
    assert window("How many pets did Andrew have, as of September 2023?", NOW) == Window(
        None, at("2023-10-16")
    )
    assert window("What happened before 3 March, 2024?", NOW) == Window(None, at("2024-03-05"))
    assert window("What did we plan before 2023?", NOW) == Window(None, at("2023-02-01"))
    assert window("What changed since January 2024?", NOW) == Window(at("2024-01-01"), None)
    assert window("What changed after May?", NOW) == Window(at("2024-05-01"), None)


def test_between_spans_both_dates_and_lends_the_year() -> None:
    assert window("Where was John between August 11 and August 15 2023?", NOW) == Window(
        at("2023-08-11"), at("2023-08-18")
    )


def test_a_date_without_a_year_is_its_latest_occurrence() -> None:
    assert window("what did we plan on 3 May?", NOW) == Window(at("2024-05-03"), at("2024-05-06"))
    assert window("what did we plan on 3 December?", NOW) == Window(
        at("2023-12-03"), at("2023-12-06")
    )


def test_relative_phrases_count_from_now() -> None:
    assert window("what did I say yesterday?", NOW) == Window(at("2024-06-14"), at("2024-06-16"))
    assert window("the recipe from last week", NOW) == Window(at("2024-06-01"), at("2024-06-16"))


def test_no_date_no_window() -> None:
    assert window("What may Maria do next?", NOW) is None
    assert window("Room 12 on floor 3", NOW) is None


def test_an_impossible_day_falls_back_to_its_month() -> None:
    assert window("Is 30 February, 2023 a date?", NOW) == Window(at("2023-02-01"), at("2023-03-16"))


def test_a_window_holds_its_start_but_not_its_end() -> None:
    named = Window(at("2024-01-01"), at("2024-02-01"))
    assert named.holds(at("2024-01-01")) and not named.holds(at("2024-02-01"))
    assert named.holds(datetime(2024, 1, 5))  # naive times are read as UTC
    assert Window(None, at("2024-02-01")).holds(at("1999-01-01"))
