import json

import pytest

from modcls.policy import Policy, PolicyError, Rule

SCORES0 = {c: 0.0 for c in ("child_sexual_abuse", "sexual_violence", "violent_crime", "terrorism", "drugs",
                            "self_harm", "hate_speech")}


def scores(**kw):
    return SCORES0 | kw


def test_default_policy_follows_the_taxonomy():
    p = Policy()
    assert p.decide("crime_justice", scores(child_sexual_abuse=0.9)).route == "urgent_review"
    d = p.decide("society", scores(violent_crime=0.7, drugs=0.8))
    assert (d.route, d.priority, d.flags) == ("review", "high", ["violent_crime", "drugs"])
    assert p.decide("health", scores(drugs=0.6)).priority == "normal"
    d = p.decide("crime_justice", scores())
    assert (d.route, d.priority, d.flags) == ("review", "low", [])
    assert "topic crime_justice" in d.reasons[0]
    assert p.decide("sport", scores(hate_speech=0.49)).route == "allow"


def test_model_thresholds_apply_and_policy_thresholds_override_them():
    model = {"drugs": 0.9}
    assert Policy().decide("health", scores(drugs=0.8), model).route == "allow"
    assert Policy(thresholds={"drugs": 0.7}).decide("health", scores(drugs=0.8), model).route == "review"


def test_policy_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("categories:\n  hate_speech: {route: allow}\n  drugs: {route: urgent_review, priority: urgent}\n")
    p = Policy.from_file(path)
    assert p.decide("sport", scores(hate_speech=0.9)).route == "allow"
    assert p.decide("sport", scores(drugs=0.9)).route == "urgent_review"
    assert p.decide("sport", scores(terrorism=0.9)).priority == "high"
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"topics": {"crime_justice": {"route": "allow"}}}))
    assert Policy.from_file(path).decide("crime_justice", scores()).route == "allow"


@pytest.mark.parametrize(
    "content, message",
    [
        ({"categories": {"cannibalism": {"route": "review"}}}, "cannibalism"),
        ({"topics": {"gossip": {"route": "review"}}}, "gossip"),
        ({"thresholds": {"drugs": 1.5}}, "drugs"),
        ({"categories": {"drugs": {"route": "delete"}}}, "delete"),
        ({"routes": {}}, "routes"),
        ({"categories": {"drugs": {"route": "allow", "priority": "high"}}}, "allow"),
    ],
)
def test_bad_policies_name_the_problem(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(PolicyError, match=message):
        Policy.from_file(path)


def test_unparseable_policy_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(PolicyError, match="does not parse"):
        Policy.from_file(path)


def test_round_trip():
    p = Policy(thresholds={"drugs": 0.3}, categories={"drugs": Rule("review", "low")})
    assert Policy.from_dict(p.to_dict(), base=Policy(categories={}, topics={})) == p


def test_urgent_tier_between_two_thresholds():
    from modcls.policy import Policy

    policy = Policy()
    lower, upper = {"child_sexual_abuse": 0.2}, {"child_sexual_abuse": 0.7}
    low = policy.decide("crime_justice", {"child_sexual_abuse": 0.3}, lower, upper)
    high = policy.decide("crime_justice", {"child_sexual_abuse": 0.8}, lower, upper)
    assert (low.route, low.priority, low.flags) == ("review", "high", ["child_sexual_abuse"])
    assert (high.route, high.priority) == ("urgent_review", "urgent")
    # Without an upper threshold anywhere, a flagged category with an urgent tier is urgent.
    assert policy.decide("crime_justice", {"child_sexual_abuse": 0.3}, lower).route == "urgent_review"


def test_policy_file_sets_urgent_thresholds_and_tiers():
    from modcls.policy import Policy, PolicyError

    policy = Policy.from_dict({"urgent_thresholds": {"violent_crime": 0.9},
                               "categories": {"violent_crime": {"route": "review", "priority": "high",
                                                                "urgent": {"route": "urgent_review",
                                                                           "priority": "urgent"}}}})
    assert policy.decide("crime_justice", {"violent_crime": 0.95}, {"violent_crime": 0.5}).route == "urgent_review"
    assert policy.decide("crime_justice", {"violent_crime": 0.6}, {"violent_crime": 0.5}).route == "review"
    assert policy.to_dict()["categories"]["violent_crime"]["urgent"]["route"] == "urgent_review"
    with pytest.raises(PolicyError, match="only categories"):
        Policy.from_dict({"topics": {"crime_justice": {"route": "review", "urgent": {"route": "urgent_review"}}}})
    with pytest.raises(PolicyError, match="in \\[0, 1\\]"):
        Policy.from_dict({"urgent_thresholds": {"child_sexual_abuse": 2}})
