import EventStore

/// The self-contained HTML timeline: no network and no external assets. The events are
/// embedded as JSON; a small script draws a lane per node, a colour per event family, a band
/// per incident (correlation), with zoom, a filter box and a details pane with the whole event.
enum TimelineHTML {
    /// Everything before the events.
    static func head(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
        <title>\(escape(title))</title>
        <style>
        body{font:13px system-ui,sans-serif;margin:0;display:grid;grid-template-columns:1fr 360px;grid-template-rows:auto 1fr;height:100vh}
        header{grid-column:1/3;padding:6px 10px;background:#1d2733;color:#fff;display:flex;gap:10px;align-items:center}
        header input{flex:1;padding:4px}#main{overflow:auto;position:relative}#details{overflow:auto;border-left:1px solid #ccc;padding:8px;white-space:pre-wrap;font-family:monospace;font-size:12px}
        .lane{position:relative;height:44px;border-bottom:1px solid #eee}.lane b{position:absolute;left:4px;top:2px;font-size:11px;color:#555;z-index:2}
        .ev{position:absolute;top:16px;width:6px;height:20px;border-radius:2px;cursor:pointer;opacity:.85}.ev.hidden{display:none}
        .band{position:absolute;top:0;bottom:0;background:rgba(255,200,0,.12);border-left:1px dashed #d9a400}
        .band span{font-size:10px;color:#a07800;position:absolute;top:2px;left:3px}
        </style></head><body>
        <header><strong>\(escape(title))</strong><span id="count"></span>
        <input id="filter" placeholder="filter: type, node, message, correlation"><button id="in">+</button><button id="out">−</button></header>
        <div id="main"><div id="canvas"></div></div><div id="details">Click an event.</div>
        <script type="application/json" id="events">[
        """
    }

    /// One event as an element of the embedded array (`first`: no comma before it).
    static func row(_ row: TimesketchRow, first: Bool) -> String {
        // `</` cannot appear inside the script element; JSON allows `<\/`.
        (first ? "" : ",\n") + row.jsonl.replacingOccurrences(of: "</", with: "<\\/")
    }

    /// Everything after the events: the drawing script.
    static let tail = """
        ]</script>
        <script>
        "use strict";
        const events = JSON.parse(document.getElementById("events").textContent);
        const nodes = [...new Set(events.map(e => e.node))].sort();
        const times = events.map(e => Date.parse(e.datetime));
        // Positions follow time, with any quiet gap drawn as at most a minute, so that an
        // incident days after the last one stays readable.
        const order = events.map((_, i) => i).sort((a, b) => times[a] - times[b]);
        const position = new Array(events.length).fill(0);
        order.forEach((i, k) => { if (k > 0) { const p = order[k - 1]; position[i] = position[p] + Math.min(times[i] - times[p], 60000); } });
        const span = Math.max(1, ...position);
        const palette = {action:"#2f7ed8",symptom:"#d9534f",breaker:"#8e44ad",ratelimit:"#e67e22",mapek:"#7f8c8d",crdt:"#16a085",cert:"#c0392b",trust:"#27ae60",store:"#34495e",rollback:"#f1c40f",topology:"#95a5a6"};
        let scale = 1;
        const canvas = document.getElementById("canvas");
        function x(p) { return 120 + p / span * 1200 * scale; }
        function draw() {
          canvas.innerHTML = "";
          canvas.style.width = (x(span) + 60) + "px";
          const incidents = new Map();
          events.forEach((e, i) => { if (e.correlation) { const r = incidents.get(e.correlation) || [position[i], position[i]]; incidents.set(e.correlation, [Math.min(r[0], position[i]), Math.max(r[1], position[i])]); } });
          nodes.forEach(node => {
            const lane = document.createElement("div"); lane.className = "lane"; lane.dataset.node = node;
            const label = document.createElement("b"); label.textContent = node; lane.appendChild(label);
            incidents.forEach((r, id) => { const band = document.createElement("div"); band.className = "band"; band.style.left = x(r[0]) + "px"; band.style.width = Math.max(2, x(r[1]) - x(r[0])) + "px"; const s = document.createElement("span"); s.textContent = id; band.appendChild(s); lane.appendChild(band); });
            canvas.appendChild(lane);
          });
          events.forEach((e, i) => {
            const lane = canvas.querySelector(`.lane[data-node="${CSS.escape(e.node)}"]`);
            const dot = document.createElement("div"); dot.className = "ev"; dot.dataset.seq = e.seq; dot.title = e.message;
            dot.style.left = x(position[i]) + "px"; dot.style.background = palette[e.type.split(".")[0]] || "#555";
            dot.addEventListener("click", () => { document.getElementById("details").textContent = JSON.stringify(e, null, 2); });
            lane.appendChild(dot);
          });
          applyFilter();
        }
        function applyFilter() {
          const q = document.getElementById("filter").value.toLowerCase();
          let shown = 0;
          canvas.querySelectorAll(".ev").forEach((dot, i) => {
            const e = events[i]; const hit = !q || [e.type, e.node, e.message, e.correlation || ""].some(v => String(v).toLowerCase().includes(q));
            dot.classList.toggle("hidden", !hit); if (hit) shown++;
          });
          const count = document.getElementById("count"); count.textContent = shown + " of " + events.length + " events"; count.dataset.count = events.length; count.dataset.shown = shown;
        }
        document.getElementById("filter").addEventListener("input", applyFilter);
        document.getElementById("in").addEventListener("click", () => { scale *= 2; draw(); });
        document.getElementById("out").addEventListener("click", () => { scale = Math.max(1, scale / 2); draw(); });
        document.getElementById("main").addEventListener("wheel", ev => { if (ev.ctrlKey) { ev.preventDefault(); scale = Math.max(1, scale * (ev.deltaY < 0 ? 1.25 : 0.8)); draw(); } }, {passive: false});
        draw();
        </script></body></html>

        """

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
