// Charts: each [data-chart] (templates/components/chart.html) carries its spec as JSON (utilities/charts.py).
// * Plotly.js draws it; without Plotly (blocked, failed to load) the data table stays open: it is the chart.
// * "PNG" downloads the picture (with its title), "CSV" the table's data (RFC 4180, UTF-8).
// * Works under the hub's CSP (no inline styles, no eval, images from 'self' and data: only): charts.css carries
//   the style rules Plotly would inject (see components/chart_assets.html), and Plotly's modebar is off: its look
//   is in the rules left out, and its camera exports through a blob: image the CSP refuses. Our buttons replace it.
(function () {
  "use strict";

  // From lodestar.css's tokens: accent first, then hues that stay apart from it and from each other.
  var PALETTE = ["#5b50e6", "#0f8b8d", "#d97706", "#1d5fc4", "#b4367c", "#137a45", "#6e717b"];
  var INK = "#3d3f46";
  var MUTED = "#6e717b";
  var GRID = "#ececf0";
  var TARGET = "#c0262d";
  var CONFIG = {
    responsive: true,
    displaylogo: false,
    displayModeBar: false,
    showTips: false,
    scrollZoom: false,
    doubleClick: false,
  };

  function unitSuffix(unit) {
    if (!unit) return "";
    return /^[%‰°]/.test(unit) ? unit : " " + unit;
  }

  // Hover templates are Plotly's pseudo-HTML: the unit is text, so it is escaped.
  function hoverValue(spec, axis) {
    return "%{" + axis + ":,.2~f}" + escapeHtml(unitSuffix(spec.unit));
  }

  function only(values, keep) {
    return values.map(function (value, index) {
      return keep(index) ? value : null;
    });
  }

  // A line: markers for every point (open for a partial one, which the hover calls "partial"), a solid line
  // through the complete points and a dotted one from the last complete point into the partial ones.
  function lineTraces(spec, series, colour) {
    var partial = series.partial;
    var complete = function (i) {
      return !partial[i];
    };
    var dotted = function (i) {
      return partial[i] || (i + 1 < partial.length && partial[i + 1]);
    };
    var line = { x: series.x, type: "scatter", mode: "lines", name: series.name, legendgroup: series.name };
    var solid = Object.assign({}, line, {
      y: only(series.y, complete),
      line: { color: colour, width: 2.5 },
      hoverinfo: "skip",
    });
    var dots = Object.assign({}, line, {
      y: only(series.y, dotted),
      line: { color: colour, width: 2, dash: "dot" },
      hoverinfo: "skip",
      showlegend: false,
    });
    var markers = {
      x: series.x,
      y: series.y,
      type: "scatter",
      mode: "markers",
      name: series.name,
      legendgroup: series.name,
      showlegend: false,
      customdata: partial.map(function (flag) {
        return flag ? " (partial)" : "";
      }),
      hovertemplate: hoverValue(spec, "y") + "%{customdata}<extra>" + escapeHtml(series.name) + "</extra>",
      marker: {
        color: partial.map(function (flag) {
          return flag ? "#ffffff" : colour;
        }),
        size: 7,
        line: { color: colour, width: 2 },
      },
    };
    return [solid, dots, markers];
  }

  // "#5b50e6" at a given opacity, for the paler fill of partial bars.
  function tint(hex, alpha) {
    var rgb = [1, 3, 5].map(function (start) {
      return parseInt(hex.slice(start, start + 2), 16);
    });
    return "rgba(" + rgb.join(",") + "," + alpha + ")";
  }

  // Bars: a partial bar is pale, outlined in the series' colour.
  function barTrace(spec, series, colour) {
    var horizontal = spec.kind === "hbar";
    var partial = series.partial;
    return {
      type: "bar",
      name: series.name,
      orientation: horizontal ? "h" : "v",
      x: horizontal ? series.y : series.x,
      y: horizontal ? series.x : series.y,
      customdata: partial.map(function (flag) {
        return flag ? " (partial)" : "";
      }),
      hovertemplate:
        (horizontal ? "%{y}: " + hoverValue(spec, "x") : "%{x}: " + hoverValue(spec, "y")) +
        "%{customdata}<extra>" +
        escapeHtml(series.name) +
        "</extra>",
      marker: {
        color: partial.map(function (flag) {
          return flag ? tint(colour, 0.3) : colour;
        }),
        line: {
          color: colour,
          width: partial.map(function (flag) {
            return flag ? 1.5 : 0;
          }),
        },
      },
    };
  }

  function traces(spec) {
    return spec.series.reduce(function (all, series, index) {
      var colour = PALETTE[index % PALETTE.length];
      return all.concat(spec.kind === "line" ? lineTraces(spec, series, colour) : [barTrace(spec, series, colour)]);
    }, []);
  }

  function axis(title, extra) {
    return Object.assign(
      {
        title: { text: title, font: { size: 12.5, color: MUTED }, standoff: 10 },
        automargin: true,
        color: INK,
        gridcolor: GRID,
        showline: false,
        zeroline: false,
        tickfont: { size: 12, color: MUTED },
        fixedrange: true,
      },
      extra
    );
  }

  // The target: a dashed line across the plot, labelled "Target" at its right (or top, for horizontal bars).
  function targetDecor(spec) {
    if (spec.target === null || spec.target === undefined) return { shapes: [], annotations: [] };
    var horizontal = spec.kind === "hbar";
    var line = { type: "line", line: { color: TARGET, width: 1.5, dash: "dash" }, layer: "above" };
    var label = {
      text: "Target",
      showarrow: false,
      font: { size: 11.5, color: TARGET },
      bgcolor: "rgba(255,255,255,0.85)",
    };
    if (horizontal) {
      Object.assign(line, { xref: "x", yref: "paper", x0: spec.target, x1: spec.target, y0: 0, y1: 1 });
      Object.assign(label, { xref: "x", yref: "paper", x: spec.target, y: 1, xanchor: "left", yanchor: "bottom" });
    } else {
      Object.assign(line, { xref: "paper", yref: "y", x0: 0, x1: 1, y0: spec.target, y1: spec.target });
      Object.assign(label, { xref: "paper", yref: "y", x: 1, y: spec.target, xanchor: "right", yanchor: "bottom" });
    }
    return { shapes: [line], annotations: [label] };
  }

  function layout(spec, font) {
    var horizontal = spec.kind === "hbar";
    var categoryType = { date: "date", category: "category", number: "linear" }[spec.x_type] || "-";
    var category = axis(spec.x_label, {
      type: categoryType,
      showgrid: spec.kind === "line",
      ticklabelstandoff: 6,
    });
    var value = axis(spec.y_label, {
      rangemode: "tozero",
      zeroline: true,
      zerolinecolor: "#d4d4da",
      separatethousands: true,
    });
    if (horizontal) category.autorange = "reversed"; // first category at the top, as in the table
    if (spec.compact) {
      // A sparkline shows the shape of the series: fitted to its values, no axes, no margins.
      category = { visible: false, fixedrange: true, type: categoryType };
      value = { visible: false, fixedrange: true, rangemode: "normal" };
    }
    var decor = targetDecor(spec);
    return {
      autosize: true,
      font: { family: font, size: 12.5, color: INK },
      paper_bgcolor: "rgba(0,0,0,0)",
      plot_bgcolor: "rgba(0,0,0,0)",
      margin: spec.compact
        ? { t: 4, r: 6, b: 4, l: 6 }
        : { t: spec.series.length > 1 || decor.shapes.length ? 28 : 12, r: 12, b: 8, l: 8 },
      showlegend: spec.series.length > 1,
      legend: { orientation: "h", x: 0, y: 1, xanchor: "left", yanchor: "bottom", font: { size: 12 } },
      hovermode: spec.kind === "line" ? "x unified" : "closest",
      hoverlabel: { font: { family: font, size: 12.5 }, bordercolor: "#d4d4da", bgcolor: "#ffffff" },
      bargap: spec.kind === "histogram" ? 0.02 : 0.3,
      bargroupgap: 0.06,
      xaxis: horizontal ? value : category,
      yaxis: horizontal ? category : value,
      shapes: decor.shapes,
      annotations: decor.annotations,
      separators: ".,",
    };
  }

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  // RFC 4180: comma-separated, CRLF after every record, fields with commas, quotes or line breaks quoted.
  function csv(table) {
    return [table.header]
      .concat(table.rows)
      .map(function (row) {
        return row.map(csvCell).join(",") + "\r\n";
      })
      .join("");
  }

  function download(blob, filename) {
    var url = URL.createObjectURL(blob);
    var link = document.createElement("a");
    link.href = url;
    link.download = filename;
    link.hidden = true;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () {
      URL.revokeObjectURL(url);
    }, 1000);
  }

  // Plotly.downloadImage would rasterise through a blob: image, which the CSP (img-src 'self' data:) refuses:
  // Plotly makes an SVG data URL instead, and a canvas turns it into the PNG.
  function rasterise(svgUrl, width, height, scale) {
    return new Promise(function (resolve, reject) {
      var image = new Image();
      image.onload = function () {
        var canvas = document.createElement("canvas");
        canvas.width = width * scale;
        canvas.height = height * scale;
        var context = canvas.getContext("2d");
        context.fillStyle = "#ffffff";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(image, 0, 0, canvas.width, canvas.height);
        canvas.toBlob(function (blob) {
          if (blob) resolve(blob);
          else reject(new Error("The chart could not be drawn as a PNG."));
        }, "image/png");
      };
      image.onerror = reject;
      image.src = svgUrl;
    });
  }

  // The PNG carries the chart's title, which on the page is the figure's caption.
  function downloadPng(plot, spec) {
    var width = Math.max(plot.offsetWidth, 480);
    var height = plot.offsetHeight + 52;
    var figure = {
      data: plot.data,
      layout: Object.assign({}, plot.layout, {
        title: { text: escapeHtml(spec.title), x: 0.01, xanchor: "left", font: { size: 16, color: INK } },
        margin: Object.assign({}, plot.layout.margin, { t: 64 }),
        paper_bgcolor: "#ffffff",
      }),
    };
    return Plotly.toImage(figure, { format: "svg", width: width, height: height })
      .then(function (svgUrl) {
        return rasterise(svgUrl, width, height, 2);
      })
      .then(function (blob) {
        download(blob, spec.filename + ".png");
      });
  }

  function wire(figure, spec, plot) {
    var csvButton = figure.querySelector("[data-chart-csv]");
    var pngButton = figure.querySelector("[data-chart-png]");
    csvButton.hidden = false;
    csvButton.addEventListener("click", function () {
      download(new Blob([csv(spec.table)], { type: "text/csv;charset=utf-8" }), spec.filename + ".csv");
    });
    if (!plot) return;
    pngButton.hidden = false;
    pngButton.addEventListener("click", function () {
      downloadPng(plot, spec);
    });
  }

  function draw(figure) {
    var spec = JSON.parse(document.getElementById(figure.dataset.spec).textContent);
    if (typeof window.Plotly === "undefined") {
      wire(figure, spec, null); // no picture, but the data can still be downloaded
      return;
    }
    var plot = figure.querySelector("[data-chart-plot]");
    var font = getComputedStyle(document.body).fontFamily;
    plot.hidden = false;
    Plotly.newPlot(plot, traces(spec), layout(spec, font), CONFIG).then(
      function () {
        figure.querySelector("[data-chart-table]").open = false;
        figure.classList.add("chart--drawn");
        wire(figure, spec, plot);
      },
      function () {
        plot.hidden = true;
        wire(figure, spec, null);
      }
    );
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();
