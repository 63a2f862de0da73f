"""Textual's Footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer


class SteadyFooter(Footer):
    """A Footer that skips a rebuild when the keys it would show are the ones it shows.

    Footer removes and mounts all of its keys whenever the screen's bindings may have changed:
    on every focus change and every screen resume. A screen's first paint saw five of those,
    ~20 ms each, and most of them showed the same keys again.
    """

    _shown: Hashable = None

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
                for _node, binding, enabled, tooltip in self.screen.active_bindings.values()
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
