// The dashboard's charts: the data comes from the page's json_script (no inline script under the CSP).
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || typeof Chart === "undefined") return;
    var data = JSON.parse(source.textContent);
    var trend = document.getElementById("trend-chart");
    if (trend) {
      new Chart(trend, {
        type: "line",
        data: {
          labels: data.labels,
          datasets: [
            { label: "Escalation rate (%)", data: data.escalation_rate, borderColor: "#1d4ed8", yAxisID: "y", spanGaps: true },
            { label: "Bounceback rate (%)", data: data.bounceback_rate, borderColor: "#b91c1c", yAxisID: "y", spanGaps: true },
            { label: "Median handoff (min)", data: data.handoff_p50, borderColor: "#92400e", yAxisID: "minutes", spanGaps: true }
          ]
        },
        options: {
          animation: false,
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "%" } },
            minutes: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "min" } }
          }
        }
      });
    }
    var bars = document.getElementById("trigger-chart");
    if (bars) {
      new Chart(bars, {
        type: "bar",
        data: { labels: data.triggers, datasets: [{ label: "Escalations", data: data.trigger_escalations, backgroundColor: "#1d4ed8" }] },
        options: { animation: false, indexAxis: "y", plugins: { legend: { display: false } } }
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
