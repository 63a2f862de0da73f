"""Textual's Footer, rebuilt only when the keys it shows change, and showing whole keys only."""

from __future__ import annotations

from collections.abc import Hashable

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

# Kept when the footer has no room for every key: the way to every other key (Help lists them
# all), and the way out.
ALWAYS_SHOWN = frozenset({"help", "request_quit", "quit"})


def _width(key: FooterKey) -> int:
    """The cells key takes in the footer, margin, padding and border included."""
    styles = key.styles
    return key.render().cell_len + styles.gutter.width + styles.margin.width


class SteadyFooter(Footer):
    """A Footer that skips a rebuild when the keys it would show are the ones it shows.

    Footer removes and mounts all of its keys whenever the screen's bindings may have changed:
    on every focus change and every screen resume. A screen's first paint saw five of those,
    ~20 ms each, and most of them showed the same keys again.

    Where the terminal is too narrow for every key, Textual's Footer cuts the row at the
    command palette's key, often inside a word ("/ Sear"). This one hides the keys that do not
    fit, whole, keeping Help and Quit; their bindings still work.
    """

    _shown: Hashable = None

    def on_mount(self) -> None:
        self.app.screen_change_signal.subscribe(self, self._screen_changed)

    def on_unmount(self) -> None:
        self.app.screen_change_signal.unsubscribe(self)

    def _screen_changed(self, _screen: Screen[object]) -> None:
        """A dialog opened over this footer's screen, or closed: show its keys, or ours."""
        if self.is_attached and self.screen in self.app.screen_stack:
            self.call_after_refresh(self.recompose)

    def _keys_of(self) -> Screen[object]:
        """The screen whose keys this footer lists: its own, or the dialog in front of it.

        Under a dialog (help, go to, filter, search, quit), the screen's footer still showed,
        dimmed, `n Findings  p Patterns ...`: keys the dialog does not pass on, which did
        nothing while it was open. It lists the dialog's keys instead (`esc Close`)."""
        front = self.app.screen
        if front is not self.screen and front.is_modal and self.screen in self.app.screen_stack:
            return front
        return self.screen

    def compose(self) -> ComposeResult:
        """Textual's Footer.compose, over the keys of _keys_of() (no binding here has a group).
        What it shows is remembered here: the first compose (at mount) is not a recompose,
        and the recompose that followed it rebuilt the same keys."""
        self._shown = self._keys()
        active = self._keys_of().active_bindings
        actions: set[str] = set()
        for _node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in actions:
                continue
            actions.add(binding.action)
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        self.styles.grid_size_columns = len(actions)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            palette = active.get(self.app.COMMAND_PALETTE_BINDING)
            if palette is not None:
                _node, binding, enabled, tooltip = palette
                yield FooterKey(
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.description,
                    binding.action,
                    classes="-command-palette",
                    disabled=not enabled,
                    tooltip=binding.tooltip or binding.description,
                )

    def _keys(self) -> Hashable:
        """What compose() reads: the screen's bindings, enabled or not, and the footer's options."""
        return (
            self.compact,
            self.show_command_palette,
            tuple(
                (
                    binding.key,
                    self.app.get_key_display(binding),
                    binding.action,
                    binding.description,
                    binding.show,
                    binding.group,
                    enabled,
                    tooltip,
                )
                for _node, binding, enabled, tooltip in self._keys_of().active_bindings.values()
            ),
        )

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        keys = self._keys()
        if self.children and keys == self._shown:
            return
        await super().recompose()
        self._shown = keys if self.children else None
        self.fit_keys()

    def on_resize(self) -> None:
        self.fit_keys()

    def fit_keys(self) -> None:
        """Shows, in their order, the keys that fit beside the command palette's key, after
        room for those of ALWAYS_SHOWN; hides the others."""
        width = self.size.width
        if not width:
            return  # not laid out yet: on_resize comes
        keys: list[FooterKey] = []
        for key in self.query(FooterKey):
            if key.has_class("-command-palette"):
                width -= _width(key)
            else:
                keys.append(key)
        widths = [_width(key) for key in keys]
        kept = [key.action.rpartition(".")[2] in ALWAYS_SHOWN for key in keys]
        room = width - sum(w for w, keep in zip(widths, kept, strict=True) if keep)
        for key, key_width, keep in zip(keys, widths, kept, strict=True):
            show = keep or key_width <= room
            if show and not keep:
                room -= key_width
            key.display = show
