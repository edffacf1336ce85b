/** CPU and I/O graphs of one VM over the last minutes, drawn by uPlot. */
import uPlot from "uplot";
import { h } from "./dom.ts";
import { bytes, percent } from "./format.ts";
import { ratesOf, HISTORY_SECONDS } from "./stats-history.ts";

const WIDTH_FALLBACK = 420;

export class VmGraphs {
  readonly element: HTMLElement;
  private readonly cpu: uPlot;
  private readonly io: uPlot;
  private readonly resizeObserver: ResizeObserver;

  constructor(private readonly vmName: string) {
    const cpuBox = h("figure", { class: "graph" }, h("figcaption", {}, "CPU use (share of the VM's vCPUs)"));
    const ioBox = h("figure", { class: "graph" }, h("figcaption", {}, "I/O (bytes per second)"));
    this.element = h("section", { class: "graphs", "aria-label": `Activity of ${vmName}` }, h("h3", {}, "Activity, last 5 minutes"), cpuBox, ioBox);
    const axisStyle = { stroke: "#4a5561", grid: { stroke: "#e4e8ec", width: 1 }, ticks: { stroke: "#e4e8ec", width: 1 } };
    const base = (height: number) => ({
      width: WIDTH_FALLBACK,
      height,
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
    });
    this.cpu = new uPlot(
      {
        ...base(150),
        scales: { x: { time: true }, y: { range: [0, 1] } },
        axes: [axisStyle, { ...axisStyle, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${Math.round(t * 100)}%`), size: 50 }],
        series: [{}, { label: "CPU", stroke: "#1f6feb", width: 2, fill: "rgba(31,111,235,0.12)", value: (_u: uPlot, v: number | null) => (v == null ? "–" : percent(v)) }],
      },
      [[], []],
      cpuBox,
    );
    this.io = new uPlot(
      {
        ...base(150),
        scales: { x: { time: true }, y: { range: (_u: uPlot, _min: number, max: number) => [0, Math.max(1024, max * 1.1)] } },
        axes: [axisStyle, { ...axisStyle, values: (_u: uPlot, ticks: number[]) => ticks.map((t) => `${bytes(t)}/s`), size: 96 }],
        series: [
          {},
          { label: "Disk", stroke: "#8250df", width: 2, value: (_u: uPlot, v: number | null) => (v == null ? "–" : `${bytes(v)}/s`) },
          { label: "Network", stroke: "#1a7f37", width: 2, value: (_u: uPlot, v: number | null) => (v == null ? "–" : `${bytes(v)}/s`) },
        ],
      },
      [[], [], []],
      ioBox,
    );
    this.resizeObserver = new ResizeObserver(() => this.fitWidth());
    this.resizeObserver.observe(this.element);
    this.update();
  }

  update(): void {
    const r = ratesOf(this.vmName);
    const now = Date.now() / 1000;
    this.cpu.setData([r.time, r.cpu], false);
    this.io.setData([r.time, r.disk, r.net], false);
    for (const plot of [this.cpu, this.io]) plot.setScale("x", { min: now - HISTORY_SECONDS, max: now });
  }

  dispose(): void {
    this.resizeObserver.disconnect();
    this.cpu.destroy();
    this.io.destroy();
  }

  private fitWidth(): void {
    const width = Math.max(240, Math.floor(this.element.clientWidth - 8));
    for (const plot of [this.cpu, this.io]) plot.setSize({ width, height: 150 });
  }
}
