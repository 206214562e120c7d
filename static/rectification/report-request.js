// The report request form: the quarter list offers only the quarters of the chosen campaign that have started
// (each option names its campaigns in data-campaigns); the server checks the same again.
(function () {
  const campaign = document.getElementById("id_campaign");
  const quarter = document.getElementById("id_quarter");
  if (!campaign || !quarter) { return; }
  function offer() {
    const chosen = campaign.value;
    let firstOffered = null;
    Array.from(quarter.options).forEach(function (option) {
      const campaigns = (option.dataset.campaigns || "").split(" ");
      const offered = !chosen || campaigns.indexOf(chosen) !== -1;
      option.hidden = !offered;
      option.disabled = !offered;
      if (offered && firstOffered === null) { firstOffered = option; }
    });
    const selected = quarter.options[quarter.selectedIndex];
    if ((!selected || selected.disabled) && firstOffered) { firstOffered.selected = true; }
  }
  campaign.addEventListener("change", offer);
  offer();
})();
