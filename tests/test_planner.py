"""The planner's rules, one table row or story at a time, with no HTTP at all."""

from __future__ import annotations

from forumsync.actions import (
    CommentOnPull,
    CreateThread,
    MoveThread,
    ReplyOnThread,
    SetPullLabels,
    SetThreadTags,
)
from forumsync.observation import Committee, PullObservation
from forumsync.planner import plan_cycle
from forumsync.records import PullFile
from forumsync.stages import Stage
from forumsync.state import PullState, SpecState, StoredState, ThreadState
from tests.planning import (
    FORUM,
    REPO,
    SETTINGS,
    ago,
    event,
    observe,
    pull,
    retag,
    seen_pull,
    spec_doc,
    thread,
)

LINKED_BODY = f"Discussion: {FORUM}/t/idea-40/40"


def kinds(spec) -> list[str]:
    return [type(e).__name__ for e in spec.effects]


def effect(spec, kind):
    found = [e for e in spec.effects if isinstance(e, kind)]
    assert len(found) == 1, spec.effects
    return found[0]


def only(plan):
    assert len(plan.specs) == 1, [s.key for s in plan.specs]
    return plan.specs[0]


def first_run_state() -> StoredState:
    return StoredState(first_sync_at=ago(days=40))


# --- cross-posting and linking --------------------------------------------------------------


def test_new_spec_pr_with_thread_link_cross_posts_both_ways() -> None:
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY))], threads=[thread(40)])
    spec = next(s for s in plan_cycle(obs, first_run_state(), SETTINGS).specs if s.key == "pr-12")
    assert spec.stage is Stage.DRAFT
    assert (spec.thread_id, spec.link_method) == (40, "pr_body")
    assert spec.number == 9
    reply = effect(spec, ReplyOnThread)
    assert reply.topic_id == 40 and f"github.com/{REPO}/pull/12" in reply.body
    comment = effect(spec, CommentOnPull)
    assert comment.pr == 12 and f"{FORUM}/t/idea-40/40" in comment.body
    assert effect(spec, SetPullLabels).add == ("spec-draft",)
    assert effect(spec, SetThreadTags).tags == ("spec-draft",)


def test_pr_without_thread_gets_a_new_ideas_thread_and_is_told_it_is_required() -> None:
    plan = plan_cycle(observe(pulls=[seen_pull(pull(12))]), first_run_state(), SETTINGS)
    spec = only(plan)
    create = effect(spec, CreateThread)
    assert create.category_id == 9 and "#12" in create.body
    assert spec.link_from == create.key
    assert "requires" in effect(spec, CommentOnPull).body


def test_first_run_is_quiet_about_old_events_but_sets_markers() -> None:
    old = pull(12, body=LINKED_BODY, created=ago(days=30))
    plan = plan_cycle(observe(pulls=[seen_pull(old)], threads=[thread(40)]),
                      StoredState(first_sync_at=None), SETTINGS)
    spec = next(s for s in plan.specs if s.key == "pr-12")
    assert sorted(kinds(spec)) == ["SetPullLabels", "SetThreadTags"]


def test_link_without_id_resolves_by_slug() -> None:
    body = f"see {FORUM}/t/my-great-idea"
    obs = observe(pulls=[seen_pull(pull(12, body=body))], slugs={"my-great-idea": 41},
                  threads=[thread(41)])
    spec = next(s for s in plan_cycle(obs, first_run_state(), SETTINGS).specs if s.key == "pr-12")
    assert spec.thread_id == 41


def test_placeholder_and_off_forum_links_link_nothing_and_are_reported() -> None:
    body = f"Discussion: {FORUM}/t/ and https://github.com/{REPO}/issues/3 and " \
           "https://other-forum.org/t/x/5"
    obs = observe(pulls=[seen_pull(pull(12, body=body, created=ago(days=30)),
                                   doc=spec_doc(discussion="https://other-forum.org/t/x/5"))])
    spec = only(plan_cycle(obs, StoredState(), SETTINGS))
    assert spec.thread_id is None
    reasons = " ".join(p.message for p in spec.problems)
    assert "placeholder" in reasons and "not on the forum" in reasons


def test_front_matter_discussion_links_an_old_spec_on_main() -> None:
    doc = spec_doc("spec-0001/index.md", 1, draft=False, discussion=f"{FORUM}/t/spec-1/15")
    spec = only(plan_cycle(observe(docs=[doc]), StoredState(), SETTINGS))
    assert (spec.stage, spec.thread_id, spec.link_method) == (Stage.PUBLISHED, 15, "front_matter")
    # with its introducing PR known, the same SPEC is one record with both
    intro = seen_pull(pull(3, state="closed", merged=True, created=ago(days=900)),
                      files=("spec-0001/index.md",), doc=doc)
    plan = plan_cycle(observe(pulls=[intro], docs=[doc]), StoredState(), SETTINGS)
    spec = only(plan)
    assert (spec.introducing_pr, spec.thread_id, spec.link_method) == (3, 15, "front_matter")
    assert spec.stage is Stage.PUBLISHED
    assert not [e for e in spec.effects if isinstance(e, ReplyOnThread | CommentOnPull)]


def test_ideas_thread_that_links_the_pr_is_found() -> None:
    idea = thread(42, posts=("idea", f"PR: https://github.com/{REPO}/pull/12"))
    plan = plan_cycle(observe(pulls=[seen_pull(pull(12))], threads=[idea]), first_run_state(),
                      SETTINGS)
    spec = only(plan)
    assert (spec.thread_id, spec.link_method) == (42, "thread_post")


def test_second_claimant_is_reported_not_linked() -> None:
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY)),
                         seen_pull(pull(13, body=LINKED_BODY), files=("spec-0010/index.md",))],
                  threads=[thread(40)])
    specs = {s.key: s for s in plan_cycle(obs, first_run_state(), SETTINGS).specs}
    assert specs["pr-12"].thread_id == 40
    assert specs["pr-13"].thread_id is None
    assert any(p.kind == "second-claimant" for p in specs["pr-13"].problems)


def test_manual_link_overrides_and_manual_unlink_stops_new_threads() -> None:
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY))], threads=[thread(40)])
    linked = plan_cycle(obs, StoredState(manual_links={12: 77}, first_sync_at=ago(days=1)),
                        SETTINGS)
    assert next(s for s in linked.specs if s.key == "pr-12").thread_id == 77
    unlinked = plan_cycle(observe(pulls=[seen_pull(pull(12))]),
                          StoredState(manual_links={12: None}, first_sync_at=ago(days=1)),
                          SETTINGS)
    spec = only(unlinked)
    assert spec.thread_id is None and not any(isinstance(e, CreateThread) for e in spec.effects)


def test_pr_without_spec_file() -> None:
    labelled = seen_pull(pull(20, labels=("New SPEC",)), files=("README.md",), status="modified")
    plan = plan_cycle(observe(pulls=[labelled]), StoredState(), SETTINGS)
    assert plan.specs == []
    assert [p.kind for p in plan.problems] == ["no-spec-file"]
    unrelated = seen_pull(pull(21), files=("README.md",), status="modified")
    plan = plan_cycle(observe(pulls=[unrelated]), StoredState(), SETTINGS)
    assert plan.specs == [] and plan.problems == []


def test_two_open_prs_claiming_one_number_are_reported() -> None:
    obs = observe(pulls=[seen_pull(pull(12)), seen_pull(pull(13), files=("spec-0009/index.md",))],
                  threads=[])
    # PR 13 adds the same new path: until one merges, each PR is its own SPEC proposal
    plan = plan_cycle(obs, first_run_state(), SETTINGS)
    assert [p.kind for p in plan.problems] == ["number-clash"]
    assert "#12, #13" in plan.problems[0].message


def test_renumbered_before_merge_follows_the_new_number() -> None:
    stored = StoredState(specs=(SpecState(1, Stage.DRAFT, number=9, introducing_pr=12),),
                         pulls={12: PullState(12, "open", ("spec-draft",), 1)},
                         first_sync_at=ago(days=10))
    renamed = seen_pull(pull(12, labels=("spec-draft",)), files=("spec-0011/index.md",),
                        doc=spec_doc("spec-0011/index.md", 11, title="SPEC 11 — Testing"))
    spec = only(plan_cycle(observe(pulls=[renamed]), stored, SETTINGS))
    assert (spec.spec_id, spec.number, spec.title) == (1, 11, "SPEC 11 — Testing")
    assert spec.effects == []


# --- ideas and acceptance on the forum ---------------------------------------------------------


def test_an_ideas_thread_is_an_idea() -> None:
    spec = only(plan_cycle(observe(threads=[thread(40)]), StoredState(), SETTINGS))
    assert (spec.stage, spec.thread_id, spec.key) == (Stage.IDEA, 40, "topic-40")
    assert spec.effects == []


def test_category_definition_topic_is_not_an_idea() -> None:
    from dataclasses import replace

    about = thread(1, title="About the Ideas category")
    by_system = replace(about, posts=tuple(replace(p, username="system") for p in about.posts))
    assert plan_cycle(observe(threads=[by_system]), StoredState(), SETTINGS).specs == []
    # a person's idea titled like one is still an idea: the author tells them apart
    assert len(plan_cycle(observe(threads=[about]), StoredState(), SETTINGS).specs) == 1


def _idea_state(stage: Stage = Stage.IDEA, tags: tuple[str, ...] = ()) -> StoredState:
    return StoredState(specs=(SpecState(5, stage, thread_id=40, link_method="idea"),),
                       threads={40: ThreadState(40, tags, 9, "idea-40", "An idea")},
                       first_sync_at=ago(days=10))


def test_committee_accepts_on_the_forum() -> None:
    tagged = thread(40, tags=("spec-accepted",),
                    revisions=(retag(4000, (), ("spec-accepted",), "chair"),))
    spec = only(plan_cycle(observe(threads=[tagged]), _idea_state(), SETTINGS))
    assert spec.stage is Stage.ACCEPTED
    assert [(c.from_stage, c.to_stage, c.actor, c.outcome) for c in spec.changes] == [
        (Stage.IDEA, Stage.ACCEPTED, "chair", "mirrored")]
    assert spec.effects == []  # no PR yet: nothing to mirror to


def test_non_committee_tag_is_ignored_restored_and_reported() -> None:
    tagged = thread(40, tags=("spec-accepted", "help"),
                    revisions=(retag(4000, (), ("spec-accepted", "help"), "mallory"),))
    spec = only(plan_cycle(observe(threads=[tagged]), _idea_state(), SETTINGS))
    assert spec.stage is Stage.IDEA
    assert effect(spec, SetThreadTags).tags == ("help",)  # only our tag goes; theirs stays
    assert spec.changes[0].outcome == "ignored" and "mallory" in spec.changes[0].reason
    assert any(p.kind == "ignored-change" for p in spec.problems)


def test_committee_unreadable_defers_the_change_to_the_next_cycle() -> None:
    tagged = thread(40, tags=("spec-accepted",),
                    revisions=(retag(4000, (), ("spec-accepted",), "chair"),))
    plan = plan_cycle(observe(threads=[tagged], committee=Committee(None, None)), _idea_state(),
                      SETTINGS)
    assert plan.specs == []  # nothing of it is applied: no write, no new stage
    assert [p.kind for p in plan.problems] == ["authority-unknown"]
    assert 40 not in plan.threads  # not remembered as seen: the tag is judged again
    spec = only(plan_cycle(observe(threads=[tagged]), _idea_state(), SETTINGS))
    assert spec.stage is Stage.ACCEPTED


def test_accepted_idea_gains_its_pr_and_becomes_draft() -> None:
    stored = _idea_state(Stage.ACCEPTED, ("spec-accepted",))
    obs = observe(pulls=[seen_pull(pull(12, body=LINKED_BODY))],
                  threads=[thread(40, tags=("spec-accepted",))])
    spec = only(plan_cycle(obs, stored, SETTINGS))
    assert (spec.spec_id, spec.introducing_pr, spec.thread_id) == (5, 12, 40)
    assert spec.stage is Stage.DRAFT
    assert [(c.from_stage, c.to_stage) for c in spec.changes] == [(Stage.ACCEPTED, Stage.DRAFT)]
    assert effect(spec, SetThreadTags).tags == ("spec-draft",)
    assert set(kinds(spec)) >= {"ReplyOnThread", "CommentOnPull", "SetPullLabels"}


def test_accepted_category_move_when_configured() -> None:
    from dataclasses import replace

    settings = replace(SETTINGS, accepted_category_id=15)
    tagged = thread(40, tags=("spec-accepted",),
                    revisions=(retag(4000, (), ("spec-accepted",), "chair"),))
    spec = only(plan_cycle(observe(threads=[tagged]), _idea_state(), settings))
    assert effect(spec, MoveThread).category_id == 15


# --- stage changes on GitHub -----------------------------------------------------------------


def _draft_state(labels=("spec-draft",), tags=("spec-draft",)) -> StoredState:
    return StoredState(
        specs=(SpecState(1, Stage.DRAFT, number=9, introducing_pr=12, thread_id=40,
                         link_method="pr_body", path=None),),
        pulls={12: PullState(12, "open", labels, 1)},
        threads={40: ThreadState(40, tags, 9, "idea-40", "An idea")},
        first_sync_at=ago(days=10))


def test_committee_relabels_on_github() -> None:
    labelled = seen_pull(pull(12, labels=("spec-draft", "spec-published", "docs")),
                         events=(event("labeled", "chair", "spec-published"),))
    spec = only(plan_cycle(observe(pulls=[labelled]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.PUBLISHED
    assert effect(spec, SetPullLabels).remove == ("spec-draft",)
    assert effect(spec, SetThreadTags).tags == ("spec-published",)
    note = effect(spec, ReplyOnThread)
    assert "published" in note.body and "chair" in note.body and "GitHub" in note.body


def test_non_committee_label_is_ignored_and_restored() -> None:
    labelled = seen_pull(pull(12, labels=("spec-draft", "spec-endorsed")),
                         events=(event("labeled", "mallory", "spec-endorsed"),))
    spec = only(plan_cycle(observe(pulls=[labelled]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.DRAFT
    labels = effect(spec, SetPullLabels)
    assert (labels.add, labels.remove) == ((), ("spec-endorsed",))
    assert not any(isinstance(e, ReplyOnThread | CommentOnPull) for e in spec.effects)


def test_service_own_label_read_back_after_a_crash_is_not_a_change() -> None:
    """The service labelled published, then died before remembering it: its own label event
    (forumsync-bot is even on the committee team here) must not count as a change."""
    ours = seen_pull(pull(12, labels=("spec-draft", "spec-published")),
                     events=(event("labeled", "forumsync-bot", "spec-published"),))
    spec = only(plan_cycle(observe(pulls=[ours]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.DRAFT and spec.changes == []
    tagged = thread(40, tags=("spec-published",),
                    revisions=(retag(4000, ("spec-draft",), ("spec-published",), "ForumSync"),))
    spec = only(plan_cycle(observe(threads=[tagged]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.DRAFT and spec.changes == []


def test_service_own_changes_are_not_read_back() -> None:
    again = seen_pull(pull(12, labels=("spec-draft",)))
    plan = plan_cycle(observe(pulls=[again], threads=[thread(40, tags=("spec-draft",))]),
                      _draft_state(), SETTINGS)
    assert only(plan).effects == [] and only(plan).changes == []


def test_unknown_labels_and_repository_labels_are_left_alone() -> None:
    labelled = seen_pull(pull(12, labels=("spec-draft", "New SPEC", "type: enhancement")))
    plan = plan_cycle(observe(pulls=[labelled]), _draft_state(), SETTINGS)
    assert only(plan).effects == []
    assert plan.pulls[12].labels == ("spec-draft", "New SPEC", "type: enhancement")


def test_committee_retags_on_the_forum_is_mirrored_to_github() -> None:
    tagged = thread(40, tags=("spec-withdrawn",),
                    revisions=(retag(4000, ("spec-draft",), ("spec-withdrawn",), "chair"),))
    spec = only(plan_cycle(observe(threads=[tagged]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.WITHDRAWN
    labels = effect(spec, SetPullLabels)
    assert (labels.add, labels.remove) == (("spec-withdrawn",), ("spec-draft",))
    comment = effect(spec, CommentOnPull)
    assert "withdrawn" in comment.body and "the forum" in comment.body


def test_both_sides_changed_later_wins_and_conflict_is_recorded() -> None:
    labelled = seen_pull(pull(12, labels=("spec-draft", "spec-published")),
                         events=(event("labeled", "chair", "spec-published", at=ago(minutes=9)),))
    tagged = thread(40, tags=("spec-withdrawn",), revisions=(
        retag(4000, ("spec-draft",), ("spec-withdrawn",), "chair", at=ago(minutes=3)),))
    spec = only(plan_cycle(observe(pulls=[labelled], threads=[tagged]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.WITHDRAWN
    assert [c.outcome for c in spec.changes] == ["conflict", "mirrored"]


def test_tie_goes_to_github() -> None:
    at = ago(minutes=4)
    labelled = seen_pull(pull(12, labels=("spec-draft", "spec-published")),
                         events=(event("labeled", "chair", "spec-published", at=at),))
    tagged = thread(40, tags=("spec-withdrawn",),
                    revisions=(retag(4000, ("spec-draft",), ("spec-withdrawn",), "chair", at=at),))
    spec = only(plan_cycle(observe(pulls=[labelled], threads=[tagged]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.PUBLISHED


def test_closed_unmerged_by_author_withdraws_and_reopen_returns_to_draft() -> None:
    closed = seen_pull(pull(12, state="closed", labels=("spec-draft",)),
                       events=(event("closed", "alice"),))
    spec = only(plan_cycle(observe(pulls=[closed]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.WITHDRAWN
    stored = StoredState(specs=(SpecState(1, Stage.WITHDRAWN, number=9, introducing_pr=12,
                                          thread_id=40, link_method="pr_body"),),
                         pulls={12: PullState(12, "closed", ("spec-withdrawn",), 1)},
                         threads={40: ThreadState(40, ("spec-withdrawn",), 9)},
                         first_sync_at=ago(days=10))
    reopened = seen_pull(pull(12, labels=("spec-withdrawn",)), events=(event("reopened", "alice"),))
    spec = only(plan_cycle(observe(pulls=[reopened]), stored, SETTINGS))
    assert spec.stage is Stage.DRAFT


def test_closed_by_someone_else_is_ignored() -> None:
    closed = seen_pull(pull(12, state="closed", labels=("spec-draft",)),
                       events=(event("closed", "mallory"),))
    spec = only(plan_cycle(observe(pulls=[closed]), _draft_state(), SETTINGS))
    assert spec.stage is Stage.DRAFT and spec.changes[0].outcome == "ignored"


# --- merge, publish, endorse -------------------------------------------------------------------


def test_merged_as_draft_stays_draft_and_tracks_the_file() -> None:
    merged = seen_pull(pull(12, state="closed", merged=True, labels=("spec-draft",),
                            merged_by="chair"))
    plan = plan_cycle(observe(pulls=[merged], docs=[spec_doc()]), _draft_state(), SETTINGS)
    spec = only(plan)
    assert (spec.stage, spec.path, spec.is_draft) == (Stage.DRAFT, "spec-0009/index.md", True)
    assert plan.pulls[12].state == "merged"


def _merged_state(draft: bool = True, endorsed: tuple[str, ...] = ()) -> StoredState:
    stage = Stage.DRAFT if draft else Stage.PUBLISHED
    label = f"spec-{stage.value}"
    return StoredState(
        specs=(SpecState(1, stage, number=9, introducing_pr=12, thread_id=40,
                         link_method="pr_body", path="spec-0009/index.md", is_draft=draft,
                         endorsed_by=endorsed),),
        pulls={12: PullState(12, "merged", (label,), 1)},
        threads={40: ThreadState(40, (label,), 9, "idea-40", "An idea")},
        first_sync_at=ago(days=10))


def test_publishing_pr_merged_publishes_and_announces() -> None:
    publishing = seen_pull(pull(30, state="closed", merged=True, merged_by="chair"),
                           status="modified")
    obs = observe(pulls=[publishing], docs=[spec_doc(draft=False)])
    spec = only(plan_cycle(obs, _merged_state(), SETTINGS))
    assert spec.stage is Stage.PUBLISHED and 30 in spec.pulls
    assert "published" in effect(spec, ReplyOnThread).body
    assert effect(spec, SetPullLabels).pr == 12  # the stage label sits on the introducing PR


def test_two_endorsements_make_it_endorsed_with_counts() -> None:
    first = seen_pull(pull(31, state="closed", merged=True, labels=("SPEC endorsement",)),
                      status="modified")
    spec = only(plan_cycle(observe(pulls=[first], docs=[spec_doc(draft=False,
                                                                 endorsed=("numpy",))]),
                           _merged_state(draft=False), SETTINGS))
    assert spec.stage is Stage.PUBLISHED
    assert "numpy endorsed SPEC 9 — 1 endorsement" in effect(spec, ReplyOnThread).body
    second = seen_pull(pull(32, state="closed", merged=True), status="modified")
    spec = only(plan_cycle(observe(pulls=[second], docs=[spec_doc(draft=False,
                                                                  endorsed=("numpy", "scipy"))]),
                           _merged_state(draft=False, endorsed=("numpy",)), SETTINGS))
    assert spec.stage is Stage.ENDORSED
    assert "scipy endorsed SPEC 9 — 2 endorsements" in effect(spec, ReplyOnThread).body
    assert effect(spec, SetThreadTags).tags == ("spec-endorsed",)


def test_non_core_projects_do_not_count_as_endorsements() -> None:
    doc = spec_doc(draft=False, endorsed=("numpy", "my-lab-tool"))
    spec = only(plan_cycle(observe(docs=[doc]), _merged_state(draft=False), SETTINGS))
    assert spec.stage is Stage.PUBLISHED and spec.endorsed_by == ("numpy",)


def test_thread_deleted_unlinks_and_reports() -> None:
    gone = thread(40, deleted=True)
    spec = only(plan_cycle(observe(pulls=[seen_pull(pull(12, labels=("spec-draft",)))],
                                   threads=[gone]), _draft_state(), SETTINGS))
    assert spec.thread_id is None
    assert any(p.kind == "thread-deleted" for p in spec.problems)


def test_posts_copied_across_cannot_ping() -> None:
    sneaky = pull(12, body=LINKED_BODY, title="Ping @numpy/core-devs <b>now</b>",
                  author="alice")
    spec = next(s for s in plan_cycle(observe(pulls=[seen_pull(sneaky)], threads=[thread(40)]),
                                      first_run_state(), SETTINGS).specs if s.key == "pr-12")
    body = effect(spec, ReplyOnThread).body
    assert "@numpy" not in body and "<b>" not in body
    assert "@\u200dnumpy/core-devs" in body




# --- edges found in review -------------------------------------------------------------------


def test_pr_that_becomes_a_spec_pr_later_is_announced() -> None:
    stored = StoredState(pulls={12: PullState(12, "open", ())}, first_sync_at=ago(days=20))
    later = seen_pull(pull(12, body=LINKED_BODY, created=ago(days=3)))
    spec = next(s for s in plan_cycle(observe(pulls=[later], threads=[thread(40)]), stored,
                                      SETTINGS).specs if s.key == "pr-12")
    assert spec.stage is Stage.DRAFT
    assert {"ReplyOnThread", "CommentOnPull", "SetPullLabels"} <= set(kinds(spec))


def test_new_attempt_takes_over_the_thread_of_a_withdrawn_spec() -> None:
    stored = StoredState(
        specs=(SpecState(1, Stage.WITHDRAWN, number=9, introducing_pr=12, thread_id=40,
                         link_method="pr_body"),),
        pulls={12: PullState(12, "closed", ("spec-withdrawn",), 1)},
        threads={40: ThreadState(40, ("spec-withdrawn",), 9)}, first_sync_at=ago(days=30))
    retry = seen_pull(pull(15, body=LINKED_BODY), files=("spec-0012/index.md",))
    specs = {s.key: s for s in plan_cycle(observe(pulls=[retry]), stored, SETTINGS).specs}
    assert specs["pr-15"].thread_id == 40 and specs["pr-12"].thread_id is None
    assert not any(isinstance(e, CreateThread) for e in specs["pr-15"].effects)


def test_a_refused_link_opens_no_new_thread() -> None:
    stored = _draft_state()
    rival = seen_pull(pull(15, body=LINKED_BODY), files=("spec-0012/index.md",))
    spec = next(s for s in plan_cycle(observe(pulls=[rival]), stored, SETTINGS).specs
                if s.key == "pr-15")
    assert spec.thread_id is None
    assert not any(isinstance(e, CreateThread) for e in spec.effects)
    assert any(p.kind == "second-claimant" for p in spec.problems)


def test_author_link_replaces_the_thread_the_service_opened() -> None:
    stored = StoredState(
        specs=(SpecState(1, Stage.DRAFT, number=9, introducing_pr=12, thread_id=50,
                         link_method="created"),),
        pulls={12: PullState(12, "open", ("spec-draft",), 1)},
        threads={50: ThreadState(50, ("spec-draft",), 9)}, first_sync_at=ago(days=30))
    edited = seen_pull(pull(12, body=LINKED_BODY, labels=("spec-draft",)))
    spec = only(plan_cycle(observe(pulls=[edited]), stored, SETTINGS))
    assert (spec.thread_id, spec.link_method) == (40, "pr_body")


def test_manual_link_applies_without_waiting_for_a_change() -> None:
    stored = replace_state(_draft_state(), manual_links={12: 77})
    spec = only(plan_cycle(observe(), stored, SETTINGS))
    assert (spec.thread_id, spec.link_method) == (77, "manual")


def test_new_spec_reusing_a_number_is_a_new_spec() -> None:
    stored = StoredState(
        specs=(SpecState(1, Stage.WITHDRAWN, number=9, introducing_pr=3,
                         path="spec-0009/index.md"),),
        pulls={3: PullState(3, "merged", ("spec-withdrawn",), 1)}, first_sync_at=ago(days=30))
    plan = plan_cycle(observe(pulls=[seen_pull(pull(12))]), stored, SETTINGS)
    assert [s.key for s in plan.specs] == ["pr-12"]


def test_renumbered_on_main_moves_the_path() -> None:
    stored = _merged_state()
    rename = PullObservation(pull(40, state="closed", merged=True),
                             (PullFile("spec-0009/index.md", "removed"),
                              PullFile("spec-0011/index.md", "added")))
    spec = only(plan_cycle(observe(pulls=[rename]), stored, SETTINGS))
    assert (spec.spec_id, spec.path) == (1, "spec-0011/index.md")


def test_history_before_the_window_is_taken_as_it_is_on_a_first_run() -> None:
    old = seen_pull(pull(12, state="closed", created=ago(days=400)),
                    events=(event("closed", "maintainer", at=ago(days=399)),))
    spec = only(plan_cycle(observe(pulls=[old]), StoredState(), SETTINGS))
    assert spec.stage is Stage.WITHDRAWN and spec.problems == []


def test_publishing_by_merging_the_introducing_pr_is_announced() -> None:
    merged = seen_pull(pull(12, state="closed", merged=True, labels=("spec-draft",)))
    obs = observe(pulls=[merged], docs=[spec_doc(draft=False)])
    spec = only(plan_cycle(obs, _draft_state(), SETTINGS))
    assert spec.stage is Stage.PUBLISHED
    assert "published" in effect(spec, ReplyOnThread).body


def replace_state(state: StoredState, **changes) -> StoredState:
    from dataclasses import replace

    return replace(state, **changes)
