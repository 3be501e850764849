"""Lineage and impact: which products feed a product, and which products read its outputs.

The graph runs input → product → output → reader: another product's output (or an external
source) is read by a product, which publishes outputs, which other products read. It is walked
level by level from one product, up (towards its sources) and down (towards its readers), to a
depth. Each level is two queries — the inputs, then which of the products found the user may
see — so the cost grows with the depth asked for, never with the size of the graph.

Products the user may not see are left out and counted (``Graph.hidden``), and the walk does not
go through them: what lies behind a hidden product is not the user's to learn either.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from access import policy

from .models import DataProduct, Output, ProductInput

UP, DOWN, BOTH = "up", "down", "both"
DIRECTIONS = (UP, DOWN, BOTH)
DEFAULT_DEPTH, MAX_DEPTH = 2, 5

PRODUCT, OUTPUT, EXTERNAL = "product", "output", "external"
PRODUCES, READS = "produces", "reads"  # product → its output; output (or external source) → the product reading it


@dataclass
class Node:
    id: str
    kind: str
    name: str
    depth: int  # 0 for the product itself, negative upstream, positive downstream
    slug: str = ""  # a product's slug, or the slug of an output's product
    status: str = ""
    pk: int | None = None
    url: str = ""

    def as_dict(self) -> dict:
        data = {"id": self.id, "kind": self.kind, "name": self.name, "depth": self.depth}
        if self.kind == PRODUCT:
            data.update(slug=self.slug, status=self.status, url=self.url)
        elif self.kind == OUTPUT:
            data.update(output_id=self.pk, product=self.slug)
        return data


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: str

    def as_dict(self) -> dict:
        return {"from": self.source, "to": self.target, "kind": self.kind}


@dataclass
class Graph:
    center: DataProduct
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # Ids of the products the user may not see, met upstream and downstream.
    hidden_up: set[int] = field(default_factory=set)
    hidden_down: set[int] = field(default_factory=set)

    @property
    def hidden(self) -> set[int]:
        return self.hidden_up | self.hidden_down

    def add(self, node: Node) -> Node:
        # A node met twice keeps the depth it was first met at, the nearest to the centre.
        return self.nodes.setdefault(node.id, node)

    def link(self, source: str, target: str, kind: str) -> None:
        edge = Edge(source, target, kind)
        if edge not in self.edges:
            self.edges.append(edge)

    def as_dict(self) -> dict:
        return {
            "product": self.center.slug,
            "nodes": [node.as_dict() for node in self.nodes.values()],
            "edges": [edge.as_dict() for edge in self.edges],
            "hidden": len(self.hidden),
        }

    def products(self, depth: int) -> list[Node]:
        return [node for node in self.nodes.values() if node.kind == PRODUCT and node.depth == depth]


def product_id(product: DataProduct) -> str:
    return f"{PRODUCT}:{product.slug}"


def product_node(product: DataProduct, depth: int) -> Node:
    return Node(
        product_id(product),
        PRODUCT,
        product.name,
        depth,
        slug=product.slug,
        status=product.status,
        pk=product.pk,
        url=product.get_absolute_url(),
    )


def output_node(output: Output, depth: int) -> Node:
    return Node(f"{OUTPUT}:{output.pk}", OUTPUT, output.name, depth, slug=output.product.slug, pk=output.pk)


def external_node(item: ProductInput, depth: int) -> Node:
    # External sources are named, not stored: two products naming the same source share its node.
    return Node(f"{EXTERNAL}:{item.external_name}", EXTERNAL, item.external_name, depth)


def visible_ids(user, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return set(policy.restrict(DataProduct.objects.filter(pk__in=ids), user).values_list("pk", flat=True))


def build(product: DataProduct, user, depth: int = DEFAULT_DEPTH, direction: str = BOTH) -> Graph:
    """The lineage around ``product`` (which the caller has shown the user may see)."""
    graph = Graph(center=product)
    graph.add(product_node(product, 0))
    for output in product.outputs.all():
        output.product = product  # spare a query per output when naming its product
        graph.add(output_node(output, 0))
        graph.link(product_id(product), f"{OUTPUT}:{output.pk}", PRODUCES)
    if direction in (UP, BOTH):
        walk_up(graph, user, depth)
    if direction in (DOWN, BOTH):
        walk_down(graph, user, depth)
    return graph


def walk_up(graph: Graph, user, depth: int) -> None:
    frontier = {graph.center.pk}
    seen, shown = {graph.center.pk}, {graph.center.pk}
    for level in range(1, depth + 1):
        inputs = list(
            ProductInput.objects.filter(product_id__in=frontier)
            .select_related("product", "source_output__product")
            .order_by("product__name", "id")
        )
        sources = {item.source_output.product_id for item in inputs if item.source_output_id} - seen
        visible = visible_ids(user, sources)
        graph.hidden_up |= sources - visible
        seen |= sources
        shown |= visible
        for item in inputs:
            add_upstream(graph, item, -level, shown)
        frontier = visible
        if not frontier:
            return


def add_upstream(graph: Graph, item: ProductInput, depth: int, visible: set[int]) -> None:
    reader = product_id(item.product)
    if not item.source_output_id:
        source = graph.add(external_node(item, depth))
        graph.link(source.id, reader, READS)
        return
    upstream = item.source_output.product
    if upstream.pk not in visible:
        return
    source = graph.add(product_node(upstream, depth))
    output = graph.add(output_node(item.source_output, depth))
    graph.link(source.id, output.id, PRODUCES)
    graph.link(output.id, reader, READS)


def walk_down(graph: Graph, user, depth: int) -> None:
    frontier = {graph.center.pk}
    seen, shown = {graph.center.pk}, {graph.center.pk}
    for level in range(1, depth + 1):
        inputs = list(
            ProductInput.objects.filter(source_output__product_id__in=frontier)
            .select_related("product", "source_output__product")
            .order_by("product__name", "id")
        )
        readers = {item.product_id for item in inputs} - seen
        visible = visible_ids(user, readers)
        graph.hidden_down |= readers - visible
        seen |= readers
        shown |= visible
        for item in inputs:
            if item.product_id in shown:
                add_downstream(graph, item, level)
        frontier = visible
        if not frontier:
            return


def add_downstream(graph: Graph, item: ProductInput, depth: int) -> None:
    source = product_id(item.source_output.product)
    output = graph.add(output_node(item.source_output, depth - 1))
    reader = graph.add(product_node(item.product, depth))
    graph.link(source, output.id, PRODUCES)
    graph.link(output.id, reader.id, READS)


# --- Drawing: a server-rendered SVG ---------------------------------------------------------------

BOX_W, BOX_H = 180, 64
COL_GAP, ROW_GAP = 44, 14
PAD = 4
NAME_CHARS = 22


def short(text: str, limit: int = NAME_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class Box:
    node: Node
    x: int
    y: int
    label: str
    subtitle: str

    @property
    def right(self) -> int:
        return self.x + BOX_W

    @property
    def middle(self) -> int:
        return self.y + BOX_H // 2


@dataclass
class Drawing:
    width: int
    height: int
    boxes: list[Box]
    links: list[dict]
    columns: list[dict]
    box_w: int = BOX_W
    box_h: int = BOX_H


COLUMN_TITLES = {-2: "Upstream, 2 steps", -1: "Upstream", 0: "This product", 1: "Downstream", 2: "Downstream, 2 steps"}


def boxes_by_column(graph: Graph, depth: int) -> dict[int, list[Node]]:
    """Products and external sources, by column (depth); an output is drawn inside its product's box."""
    columns: dict[int, list[Node]] = defaultdict(list)
    for node in graph.nodes.values():
        if node.kind in (PRODUCT, EXTERNAL) and -depth <= node.depth <= depth:
            columns[node.depth].append(node)
    return columns


def product_links(graph: Graph) -> dict[tuple[str, str], list[str]]:
    """(source box, reader box) → the names of the outputs that connect them."""
    producer = {edge.target: edge.source for edge in graph.edges if edge.kind == PRODUCES}
    links: dict[tuple[str, str], list[str]] = defaultdict(list)
    for edge in graph.edges:
        if edge.kind != READS:
            continue
        source = producer.get(edge.source, edge.source)  # an external source is its own box
        links[(source, edge.target)].append(graph.nodes[edge.source].name if edge.source in graph.nodes else "")
    return links


def subtitle(node: Node, outputs_read: dict[str, list[str]], graph: Graph) -> str:
    if node.kind == EXTERNAL:
        return "External source"
    if node.depth == 0:
        count = sum(1 for other in graph.nodes.values() if other.kind == OUTPUT and other.slug == node.slug)
        return f"{count} output{'' if count == 1 else 's'}"
    names = sorted(set(outputs_read.get(node.id, [])))
    verb = "reads" if node.depth > 0 else "gives"
    return short(f"{verb} {', '.join(names)}", 27) if names else ""


def draw(graph: Graph, depth: int = DEFAULT_DEPTH) -> Drawing:
    """Lay the graph out in columns, from the furthest upstream on the left to the furthest downstream."""
    columns = boxes_by_column(graph, depth)
    links = product_links(graph)
    outputs_read: dict[str, list[str]] = defaultdict(list)
    for (source, reader), names in links.items():
        outputs_read[reader if graph.nodes[reader].depth > 0 else source].extend(names)
    used = sorted(columns)
    left = {d: PAD + i * (BOX_W + COL_GAP) for i, d in enumerate(used)}
    boxes: dict[str, Box] = {}
    for column_depth in used:
        nodes = sorted(columns[column_depth], key=lambda n: (n.kind != PRODUCT, n.name.lower()))
        for row, node in enumerate(nodes):
            y = PAD + 24 + row * (BOX_H + ROW_GAP)
            boxes[node.id] = Box(node, left[column_depth], y, short(node.name), subtitle(node, outputs_read, graph))
    rows = max((len(nodes) for nodes in columns.values()), default=1)
    drawn_links = [
        curve(boxes[source], boxes[reader], names)
        for (source, reader), names in links.items()
        if source in boxes and reader in boxes
    ]
    return Drawing(
        width=PAD * 2 + len(used) * BOX_W + (len(used) - 1) * COL_GAP,
        height=PAD * 2 + 24 + rows * BOX_H + (rows - 1) * ROW_GAP,
        boxes=list(boxes.values()),
        links=drawn_links,
        columns=[{"x": left[d], "title": COLUMN_TITLES.get(d, f"{abs(d)} steps")} for d in used],
    )


def curve(source: Box, target: Box, names: list[str]) -> dict:
    x1, y1, x2, y2 = source.right, source.middle, target.x, target.middle
    if x2 <= x1:  # two boxes in the same column (a product read by its neighbour): loop round the right
        x2, bend = target.right, 40
        path = f"M{x1},{y1} C{x1 + bend},{y1} {x2 + bend},{y2} {x2},{y2}"
    else:
        middle = (x1 + x2) // 2
        path = f"M{x1},{y1} C{middle},{y1} {middle},{y2} {x2},{y2}"
    title = f"{source.node.name} → {target.node.name}"
    if any(names) and source.node.kind == PRODUCT:
        title += f" ({', '.join(sorted(set(names)))})"
    return {"path": path, "title": title}


# --- Impact: what breaks if an output changes -----------------------------------------------------


@dataclass
class Reader:
    """A product reading an output, who owns it, and the columns it reads ([] = not declared: assume all)."""

    product: DataProduct
    columns: list[str]

    @property
    def owner(self):
        return self.product.owner

    def as_dict(self) -> dict:
        owner = self.product.owner
        return {
            "product": self.product.slug,
            "name": self.product.name,
            "status": self.product.status,
            "owner": {"username": owner.get_username(), "name": owner.get_full_name(), "email": owner.email},
            "columns": list(self.columns),
            "all_columns": not self.columns,
        }


@dataclass
class Impact:
    output: Output
    readers: list[Reader] = field(default_factory=list)
    hidden: int = 0

    def as_dict(self) -> dict:
        return {
            "output": {"id": self.output.pk, "name": self.output.name, "product": self.output.product.slug},
            "readers": [reader.as_dict() for reader in self.readers],
            "hidden": self.hidden,
        }


def readers_of(outputs: QuerySet) -> QuerySet:
    return (
        ProductInput.objects.filter(source_output__in=outputs)
        .select_related("product__owner")
        .order_by("product__name", "id")
    )


def impact(outputs: list[Output], user, of: QuerySet) -> dict[int, Impact]:
    """Per output (by id): the products reading it that the user may see, and how many they may not.

    ``of`` is a queryset of the same outputs; two queries whatever their number.
    """
    found = {output.pk: Impact(output) for output in outputs}
    inputs = list(readers_of(of))
    visible = visible_ids(user, {item.product_id for item in inputs})
    for item in inputs:
        entry = found.get(item.source_output_id)
        if entry is None:
            continue
        if item.product_id in visible:
            entry.readers.append(Reader(item.product, item.columns or []))
        else:
            entry.hidden += 1
    return found


def impact_of_output(output: Output, user) -> Impact:
    return impact([output], user, Output.objects.filter(pk=output.pk))[output.pk]


def parse_params(params) -> tuple[int, str]:
    """``depth`` and ``direction`` from query parameters; a ValueError names the one that is wrong."""
    raw_depth = params.get("depth", "")
    depth = DEFAULT_DEPTH
    if raw_depth != "":
        if not raw_depth.isdigit() or not 1 <= int(raw_depth) <= MAX_DEPTH:
            raise ValueError("depth", f"depth must be a whole number from 1 to {MAX_DEPTH}.")
        depth = int(raw_depth)
    direction = params.get("direction", "") or BOTH
    if direction not in DIRECTIONS:
        raise ValueError("direction", "direction must be up, down or both.")
    return depth, direction
