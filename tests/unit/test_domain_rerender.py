"""The staleness rule: a render is made again when the service runs another revision than the
one it was made on; and what people read when it was."""

from __future__ import annotations

from bluegreen.domain.rerender import is_stale, rendered_again_words
from bluegreen.models import RenderedAgain, RenderResult

from tests.unit.builders import ACCOUNT, REGION, rendered

ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:{{}}"


def render() -> RenderResult:
    made = rendered().render
    assert made is not None
    assert made.previous_task_definition == ARN.format(1)  # made on web:1, registered web:2
    return made


def test_a_render_made_on_the_revision_the_service_runs_is_current() -> None:
    assert not is_stale(render(), ARN.format(1))


def test_a_render_made_on_a_revision_the_service_no_longer_runs_is_stale() -> None:
    assert is_stale(render(), ARN.format(9))  # another release deployed web:9 meanwhile


def test_only_a_render_made_again_says_so() -> None:
    first = render()
    again = first.model_copy(
        update={
            "previous_task_definition": ARN.format(9),
            "task_definition": ARN.format(10),
            "rendered_again": RenderedAgain(
                first_task_definition=first.task_definition, registered_by="demo-web-9f8e7d6c5b4a"
            ),
        }
    )
    unknown = again.model_copy(
        update={"rendered_again": RenderedAgain(first_task_definition=first.task_definition)}
    )

    assert rendered_again_words(first) is None
    assert rendered_again_words(again) == (
        "rendered again on web:9, which demo-web-9f8e7d6c5b4a deployed while this one waited "
        "(approved as web:2; the same image)"
    )
    assert rendered_again_words(unknown) == (
        "rendered again on web:9, which the service ran by the time this one's turn came "
        "(approved as web:2; the same image)"
    )
