from __future__ import annotations

from cli_test_utils import make_console, output_of

from llmgine.cli import (
    AssistantComponent,
    EngineResultComponent,
    ErrorComponent,
    ToolComponent,
    ToolComponentShort,
    UserComponent,
)
from llmgine.cli.live import TurnDisplay
from llmgine.engines.messages import EngineTextDeltaEvent
from llmgine.messages.commands import CommandResult
from llmgine.tools.events import ToolExecuteResultEvent


def rendered(component: object) -> str:
    console = make_console()
    component.render(console)  # type: ignore[attr-defined]
    return output_of(console)


def test_user_component_shows_the_text_literally() -> None:
    out = rendered(UserComponent.from_text("hello [red]world[/red]"))
    assert "You" in out
    assert "hello [red]world[/red]" in out


def test_user_component_takes_an_event_with_text() -> None:
    out = rendered(UserComponent(EngineTextDeltaEvent(text="from an event")))
    assert "from an event" in out


def test_assistant_component_renders_markdown() -> None:
    out = rendered(AssistantComponent("# Title\n\n* **bold** item\n\n`code`"))
    assert "Assistant" in out
    assert "Title" in out
    assert "bold item" in out
    assert "**" not in out
    assert "#" not in out


def test_engine_result_component_shows_the_answer_in_a_panel() -> None:
    out = rendered(EngineResultComponent(CommandResult(success=True, result="The *answer*")))
    assert "The answer" in out
    assert "Assistant" in out
    assert "╭" in out  # a panel


def test_engine_result_component_does_not_repeat_streamed_text() -> None:
    result = CommandResult(success=True, result="The answer")
    component = EngineResultComponent(result, streamed_text="Let me look.The answer")
    assert component.already_shown
    assert rendered(component) == ""


def test_engine_result_component_shows_an_answer_that_was_not_streamed() -> None:
    result = CommandResult(success=True, result="Another answer")
    out = rendered(EngineResultComponent(result, streamed_text="something else"))
    assert "Another answer" in out


def test_engine_result_component_failed_result_is_one_red_line() -> None:
    result = CommandResult(success=False, error="bad\n  things   happened")
    out = rendered(EngineResultComponent(result))
    assert out == "Error: bad things happened\n"


def test_engine_result_component_empty_answer() -> None:
    out = rendered(EngineResultComponent(CommandResult(success=True, result=None)))
    assert "(empty answer)" in out


def test_error_component_is_one_line() -> None:
    out = rendered(ErrorComponent("a\nb\n\nc"))
    assert out.strip() == "Error: a b c"
    assert out.count("\n") == 1


def test_tool_component_shows_name_arguments_and_result() -> None:
    event = ToolExecuteResultEvent(
        tool_name="get_weather", arguments={"city": "Paris"}, result="sunny [b]21C[/b]"
    )
    out = rendered(ToolComponent(event))
    assert "Tool: get_weather" in out
    assert '{"city": "Paris"}' in out
    assert "sunny [b]21C[/b]" in out
    assert "failed" not in out


def test_tool_component_shows_errors() -> None:
    event = ToolExecuteResultEvent(tool_name="divide", result="ZeroDivisionError", is_error=True)
    out = rendered(ToolComponent(event))
    assert "Tool failed: divide" in out
    assert "error: ZeroDivisionError" in out


def test_tool_component_error_is_styled_red() -> None:
    event = ToolExecuteResultEvent(tool_name="divide", result="oops", is_error=True)
    segments = list(make_console().render(ToolComponent(event)))
    assert any(seg.style and seg.style.color and seg.style.color.name == "red" for seg in segments)


def test_tool_component_shortens_long_results() -> None:
    event = ToolExecuteResultEvent(
        tool_name="dump", result="\n".join(f"line {i}" for i in range(50))
    )
    out = rendered(ToolComponent(event))
    assert "line 19" in out
    assert "line 20" not in out
    assert "30 more lines" in out


def test_tool_component_shows_a_call_that_did_not_run() -> None:
    event = ToolExecuteResultEvent(tool_name="t", is_error=True, result="it broke")
    out = rendered(ToolComponent(event))
    assert "Tool failed: t" in out
    assert "it broke" in out


def test_tool_component_short_is_one_line() -> None:
    event = ToolExecuteResultEvent(tool_name="get_weather", arguments={"city": "Paris"})
    out = rendered(ToolComponentShort(event))
    assert out.strip() == '✓ get_weather({"city": "Paris"})'


def test_components_are_rich_renderables() -> None:
    console = make_console()
    console.print(UserComponent("as a renderable"))
    assert "as a renderable" in output_of(console)


def test_turn_display_prints_streamed_text_once_when_finished() -> None:
    console = make_console()
    display = TurnDisplay(console)
    display.start_turn()
    display.set_status("calling the model")
    display.add_text("Hello ")
    display.add_text("**world**")
    assert output_of(console) == ""  # nothing final yet (the live region is not a terminal)
    display.set_status("finished")
    out = output_of(console)
    assert "Hello world" in out
    assert out.count("Hello world") == 1
    assert display.streamed == "Hello **world**"
    assert not display.active


def test_turn_display_flushes_text_before_other_output() -> None:
    console = make_console()
    display = TurnDisplay(console)
    display.start_turn()
    display.add_text("first part")
    with display.paused():
        console.print("TOOL OUTPUT")
    display.add_text("second part")
    display.finish()
    out = output_of(console)
    assert out.index("first part") < out.index("TOOL OUTPUT") < out.index("second part")


def test_turn_display_on_a_terminal_is_transient() -> None:
    console = make_console()
    console._force_terminal = True  # the live region draws, then erases itself
    display = TurnDisplay(console)
    display.set_status("working")
    display.add_text("streamed")
    assert display.active
    display.finish()
    assert not display.active
    assert "streamed" in output_of(console)


def test_turn_display_shows_thinking_collapsed_then_the_answer() -> None:
    console = make_console()
    display = TurnDisplay(console)
    display.start_turn()
    display.add_thinking("Short ")
    display.add_thinking("thought.")
    display.add_text("The answer")
    display.finish()
    out = output_of(console)
    assert "▸ thought for 2 words" in out and "Short thought." not in out
    assert out.index("thought for") < out.index("The answer")
    assert display.thinking == "Short thought."
    display.show_thinking = True
    display.start_turn()
    assert display.thinking == ""
    display.add_thinking("Long thought.")
    display.finish()
    assert "▾ thinking" in output_of(console) and "Long thought." in output_of(console)


def test_thinking_view_is_dim() -> None:
    from llmgine.cli.live import thinking_view

    collapsed = thinking_view("a b c", expanded=False)
    assert "dim" in str(collapsed.style)
    streaming = thinking_view("one two three", expanded=False, streaming=True)
    assert streaming.plain == "▸ thinking… (3 words) one two three"
    expanded = thinking_view("all of it", expanded=True)
    assert expanded.plain == "▾ thinking\nall of it"
    assert all("dim" in str(span.style) for span in expanded.spans)
