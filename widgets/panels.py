"""The dock panels the main window builds. Add a panel by appending ONE PanelSpec line.

``factory`` is "module:Class"; the class is constructed as ``Class(ctx, parent)`` and must
be a QWidget. Modules are imported lazily; a panel whose import or construction fails is
logged and skipped with a status-bar message, so one broken panel never breaks the app.
``area``: left, right, top or bottom. ``visible``: shown at start (else via View menu).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PanelSpec:
    id: str
    title: str
    factory: str
    area: str = "left"
    visible: bool = True


PANELS: list[PanelSpec] = [
    PanelSpec(id="clips", title="Clips", factory="widgets.dataset.clip_list:ClipListPanel",
              area="left"),
    PanelSpec(id="people", title="People", factory="widgets.people.panel:PeoplePanel",
              area="left"),
    PanelSpec(id="angles", title="Joint angles", factory="widgets.plots.angles:AnglePlotPanel",
              area="bottom"),
    PanelSpec(id="curation", title="QA curation", factory="widgets.curation.panel:CurationPanel", area="right"),  # noqa: E501
    PanelSpec(id="describe", title="Describe", factory="widgets.describe.panel:DescribePanel", area="right"),
    PanelSpec(id="compare", title="Compare frames", factory="widgets.compare.frame_pair:FramePairPanel", area="bottom", visible=False),  # noqa: E501
    PanelSpec(id="motion", title="Motion", factory="widgets.describe.motion:MotionPanel", area="bottom", visible=False),  # noqa: E501
    PanelSpec(id="evaluation", title="Evaluation", factory="widgets.evaluation.panel:EvaluationPanel", area="bottom", visible=False),  # noqa: E501
    PanelSpec(id="ask", title="Ask a model", factory="widgets.vlm.ask_panel:AskPanel", area="right"),
    PanelSpec(id="compare_models", title="Compare models", factory="widgets.vlm.compare_view:CompareView", area="bottom", visible=False),  # noqa: E501
    PanelSpec(id="dataset_runs", title="Dataset runs", factory="widgets.dataset_runs.panel:DatasetRunsPanel", area="bottom", visible=False),  # noqa: E501
    PanelSpec(id="finetune", title="Fine-tune", factory="widgets.finetune.panel:FinetunePanel", area="bottom", visible=False),  # noqa: E501
]
