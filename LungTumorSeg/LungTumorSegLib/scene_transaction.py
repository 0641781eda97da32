"""Undo for results written into nodes that already exist (a re-run, "update lesions").

A run replaces the output of the previous one in place: the segmentation node, its table
and the kept probability map are reused, and committing a result changes more than their
content — the segmentation's reference geometry, parent transform and place in the subject
hierarchy, the map's voxels, grid and name, the links and run record on the segmentation.
When anything fails after the first change, the scene must be exactly as it was (a failed
or cancelled run leaves the scene unchanged), so :class:`NodeState` records all of that
before the commit and puts it back on failure.

No Qt: plain MRML calls, tested on the real MRML code of ``slicer-core``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import slicer
import vtk

#: Reference roles a commit never changes on a reused node (display and storage nodes stay).
_KEPT_ROLES = ("display", "storage", "transform")


def _subject_hierarchy(node):
    scene = node.GetScene()
    return slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene) if scene is not None else None


def _references(node) -> dict[str, list[str]]:
    roles = [node.GetNthNodeReferenceRole(i) for i in range(node.GetNumberOfNodeReferenceRoles())]
    return {role: [node.GetNthNodeReferenceID(role, i) for i in range(node.GetNumberOfNodeReferences(role))]
            for role in roles if role not in _KEPT_ROLES}


def _content_copy(node):
    """A deep copy of what a commit replaces inside ``node`` (None for other node classes)."""
    if node.IsA("vtkMRMLSegmentationNode"):
        copy = slicer.vtkSegmentation()
        copy.DeepCopy(node.GetSegmentation())
        return copy
    if node.IsA("vtkMRMLTableNode") and node.GetTable() is not None:
        copy = vtk.vtkTable()
        copy.DeepCopy(node.GetTable())
        return copy
    if node.IsA("vtkMRMLScalarVolumeNode"):
        matrix = vtk.vtkMatrix4x4()
        node.GetIJKToRASMatrix(matrix)
        image = None
        if node.GetImageData() is not None:
            image = vtk.vtkImageData()
            image.DeepCopy(node.GetImageData())
        return image, matrix
    return None


@dataclass
class NodeState:
    """What a commit may change on an existing node, recorded so that it can be restored."""

    node: object
    name: str
    transform_id: str | None  # None also for nodes that cannot be transformed (tables)
    attributes: dict[str, str]
    references: dict[str, list[str]]
    hierarchy_parent: int | None
    content: object = field(repr=False)

    @classmethod
    def capture(cls, node) -> "NodeState":
        sh = _subject_hierarchy(node)
        item = sh.GetItemByDataNode(node) if sh is not None else 0
        transformable = node.IsA("vtkMRMLTransformableNode")
        return cls(node=node, name=node.GetName(),
                   transform_id=node.GetTransformNodeID() if transformable else None,
                   attributes={a: node.GetAttribute(a) for a in node.GetAttributeNames()},
                   references=_references(node),
                   hierarchy_parent=sh.GetItemParent(item) if item else None,
                   content=_content_copy(node))

    def restore(self) -> None:
        """Put the recorded state back (the node must still be in its scene)."""
        node = self.node
        was_modifying = node.StartModify()
        try:
            node.SetName(self.name)
            if node.IsA("vtkMRMLTransformableNode") and node.GetTransformNodeID() != self.transform_id:
                node.SetAndObserveTransformNodeID(self.transform_id)
            for name in node.GetAttributeNames():
                if name not in self.attributes:
                    node.RemoveAttribute(name)
            for name, value in self.attributes.items():
                node.SetAttribute(name, value)
            now = _references(node)
            for role in set(now) | set(self.references):
                if now.get(role) != self.references.get(role):
                    node.RemoveNodeReferenceIDs(role)
                    for node_id in self.references.get(role, []):
                        node.AddNodeReferenceID(role, node_id)
            self._restore_content()
        finally:
            node.EndModify(was_modifying)
        sh = _subject_hierarchy(node)
        item = sh.GetItemByDataNode(node) if sh is not None else 0
        if item and self.hierarchy_parent is not None and sh.GetItemParent(item) != self.hierarchy_parent:
            sh.SetItemParent(item, self.hierarchy_parent)

    def _restore_content(self) -> None:
        node, content = self.node, self.content
        if content is None:
            return
        if node.IsA("vtkMRMLSegmentationNode"):
            node.GetSegmentation().DeepCopy(content)
        elif node.IsA("vtkMRMLTableNode"):
            node.SetAndObserveTable(content)
        elif node.IsA("vtkMRMLScalarVolumeNode"):
            image, matrix = content
            node.SetIJKToRASMatrix(matrix)
            node.SetAndObserveImageData(image)


def capture(nodes) -> list[NodeState]:
    """The states of the existing ``nodes`` (None entries and repeats skipped)."""
    seen, states = set(), []
    for node in nodes:
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            states.append(NodeState.capture(node))
    return states


def roll_back(scene, created, states: list[NodeState]) -> None:
    """Remove the nodes a failed commit ``created`` and restore the reused nodes' ``states``."""
    for node in created:
        if node.GetScene() is scene:
            scene.RemoveNode(node)
    for state in states:
        if state.node.GetScene() is scene:
            state.restore()
