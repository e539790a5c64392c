// GridMap's built-in web map (GET /map, served by api/src/webmap.rs).
//
// Draws the units of the default grid system from /geojson/units over a blank background: the
// city and districts whole, the finer levels per district in view, each level only once it is
// switched on and the map is zoomed in far enough. Grids and micro-grids are coloured by
// household load. A click asks GraphQL `locate` for the chain of units holding the point. With
// ?plan=<id>, the proposed grids of /geojson/plans/<id> are drawn as outlines over the old ones.
// Where anonymous clients may not read, open /map#token=<token>: every request then carries it
// as a bearer token (a fragment never reaches the server's logs).
//
// For tests: window.gridmap = { map, levels, settled() }, and #map carries data-<level>-count
// (features loaded per level), data-ready once the first view is drawn, and data-plan
// ("loaded" or "failed").
'use strict';

(function () {
  const LEVELS = [
    { level: 'CITY', label: 'City 市', minzoom: 0, on: true, whole: true, line: '#222', width: 2.5 },
    { level: 'DISTRICT', label: 'District 区', minzoom: 0, on: true, whole: true, line: '#444', width: 1.8 },
    { level: 'STREET', label: 'Street 街道', minzoom: 9, on: false, line: '#2b6cb0', width: 1.6 },
    { level: 'COMMUNITY', label: 'Community 社区', minzoom: 10, on: false, line: '#6b46c1', width: 1.2 },
    { level: 'GRID', label: 'Grid 网格', minzoom: 10, on: true, load: [300, 500], line: '#555', width: 0.8 },
    { level: 'MICRO_GRID', label: 'Micro-grid 微网格', minzoom: 12, on: false, load: [30, 100], line: '#777', width: 0.5 },
  ];
  const BY_LEVEL = Object.fromEntries(LEVELS.map((l) => [l.level, l]));
  const LOAD = [
    { key: 'under', colour: '#8ec3e6', text: (l) => `under ${l.load[0]}` },
    { key: 'ok', colour: '#9ad39a', text: (l) => `${l.load[0]}–${l.load[1]}` },
    { key: 'over', colour: '#ea7a70', text: (l) => `over ${l.load[1]}` },
  ];
  const PLAN_STATUS = [
    { status: 'kept', colour: '#333333', width: 1.5, dash: [2, 2], text: 'kept (unchanged)' },
    { status: 'changed', colour: '#e07b00', width: 2.5, text: 'changed' },
    { status: 'new', colour: '#7b2fbe', width: 2.5, text: 'new' },
  ];
  const FALLBACK_VIEW = { center: [104.066, 30.657], zoom: 10 }; // Chengdu, Tianfu Square

  const mapEl = document.getElementById('map');
  const statusEl = document.getElementById('status');
  const planId = new URLSearchParams(location.search).get('plan');
  const token = new URLSearchParams(location.hash.slice(1)).get('token');

  let system = null;
  const loaded = Object.fromEntries(LEVELS.map((l) => [l.level, new Map()])); // level -> code -> feature
  const requested = new Set(); // "LEVEL|within" already fetched or being fetched
  const pending = new Set(); // promises of fetches under way
  let clicks = 0;

  const map = new maplibregl.Map({
    container: mapEl,
    style: {
      version: 8,
      sources: {},
      layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f4f3ef' } }],
    },
    center: FALLBACK_VIEW.center,
    zoom: FALLBACK_VIEW.zoom,
    attributionControl: { compact: true, customAttribution: '© OpenStreetMap contributors, geoBoundaries' },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  window.gridmap = { map, levels: LEVELS, settled };

  // ---- layers ------------------------------------------------------------------------------

  function loadColour(l) {
    const [min, max] = l.load;
    return ['case', ['<', ['get', 'households'], min], LOAD[0].colour,
      ['>', ['get', 'households'], max], LOAD[2].colour, LOAD[1].colour];
  }

  function addLayers() {
    const empty = { type: 'FeatureCollection', features: [] };
    for (const l of LEVELS) map.addSource(l.level, { type: 'geojson', data: empty });
    for (const l of LEVELS.filter((l) => l.load)) {
      map.addLayer({ id: `${l.level}-fill`, type: 'fill', source: l.level, minzoom: l.minzoom,
        paint: { 'fill-color': loadColour(l), 'fill-opacity': planId ? 0.45 : 0.7 } });
    }
    for (const l of [...LEVELS].reverse()) {
      map.addLayer({ id: `${l.level}-line`, type: 'line', source: l.level, minzoom: l.minzoom,
        paint: { 'line-color': l.line, 'line-width': l.width } });
    }
    map.addSource('plan', { type: 'geojson', data: empty });
    map.addLayer({ id: 'plan-hit', type: 'fill', source: 'plan', paint: { 'fill-opacity': 0 } });
    map.addLayer({ id: 'plan-infeasible', type: 'line', source: 'plan', filter: ['==', ['get', 'isInfeasible'], true],
      paint: { 'line-color': '#d11', 'line-width': 6, 'line-opacity': 0.45 } });
    for (const s of PLAN_STATUS) {
      const paint = { 'line-color': s.colour, 'line-width': s.width };
      if (s.dash) paint['line-dasharray'] = s.dash;
      map.addLayer({ id: `plan-${s.status}`, type: 'line', source: 'plan',
        filter: ['==', ['get', 'status'], s.status], paint });
    }
    map.addSource('selection', { type: 'geojson', data: empty });
    map.addLayer({ id: 'selection', type: 'line', source: 'selection',
      paint: { 'line-color': '#111', 'line-width': 3.5 } });
    for (const l of LEVELS) setVisible(l, l.on);
  }

  function layerIds(l) {
    return [`${l.level}-fill`, `${l.level}-line`].filter((id) => map.getLayer(id));
  }

  function setVisible(l, on) {
    l.on = on;
    for (const id of layerIds(l)) map.setLayoutProperty(id, 'visibility', on ? 'visible' : 'none');
  }

  // ---- the panel ---------------------------------------------------------------------------

  function buildPanel() {
    const list = document.getElementById('layers');
    for (const l of LEVELS) {
      const item = document.createElement('li');
      item.innerHTML = `<label><input type="checkbox" name="${l.level}"> ${l.label}</label><span class="note"></span>`;
      const box = item.querySelector('input');
      box.checked = l.on;
      box.addEventListener('change', () => {
        setVisible(l, box.checked);
        refresh();
      });
      l.note = item.querySelector('.note');
      list.appendChild(item);
    }
    const legend = document.getElementById('legend');
    for (const entry of LOAD) {
      const item = document.createElement('li');
      const text = LEVELS.filter((l) => l.load).map((l) => `${l.label.split(' ')[0].toLowerCase()} ${entry.text(l)}`);
      item.innerHTML = `<span class="swatch" style="background:${entry.colour}"></span> ${entry.key === 'ok' ? 'within' : entry.key}: ${text.join(', ')}`;
      legend.appendChild(item);
    }
  }

  function updateNotes() {
    const zoom = map.getZoom();
    for (const l of LEVELS) {
      const count = loaded[l.level].size;
      mapEl.setAttribute(`data-${l.level.toLowerCase().replace('_', '-')}-count`, String(count));
      l.note.textContent = l.on && zoom < l.minzoom ? '(zoom in to see)' : count ? `· ${count}` : '';
    }
  }

  function setStatus(text) {
    statusEl.textContent = text;
  }

  // ---- data --------------------------------------------------------------------------------

  async function failure(response) {
    let detail = '';
    try {
      const body = await response.json();
      detail = (body.error && body.error.message) || '';
    } catch (_) {
      // not JSON: the status says enough
    }
    const hint = response.status === 401 || response.status === 403
      ? (token ? '; the token in the address may not read this' : '; open /map#token=<a viewer token>')
      : '';
    return `the server answered ${response.status} ${response.statusText}`.trim() + (detail ? ` (${detail})` : '') + hint;
  }

  /** fetch, with the bearer token from the fragment if there is one. */
  function api(url, options = {}) {
    const headers = { ...(options.headers || {}) };
    if (token) headers.authorization = `Bearer ${token}`;
    return fetch(url, { ...options, headers });
  }

  function track(promise) {
    pending.add(promise);
    promise.finally(() => pending.delete(promise));
    return promise;
  }

  function loadUnits(level, within) {
    const key = `${level}|${within || '*'}`;
    if (requested.has(key)) return Promise.resolve();
    requested.add(key);
    const params = new URLSearchParams({ level, system });
    if (within) params.set('within', within);
    return track((async () => {
      const response = await api(`/geojson/units?${params}`);
      if (!response.ok) {
        requested.delete(key);
        throw new Error(`${BY_LEVEL[level].label}: ${await failure(response)}`);
      }
      const collection = await response.json();
      const byCode = loaded[level];
      for (const feature of collection.features) byCode.set(feature.properties.code, feature);
      map.getSource(level).setData({ type: 'FeatureCollection', features: [...byCode.values()] });
    })());
  }

  function bboxOf(feature) {
    if (!feature.bbox) {
      const box = [Infinity, Infinity, -Infinity, -Infinity];
      const visit = (c) => {
        if (typeof c[0] === 'number') {
          box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]);
          box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]);
        } else c.forEach(visit);
      };
      visit(feature.geometry.coordinates);
      feature.bbox = box;
    }
    return feature.bbox;
  }

  function union(features) {
    return features.map(bboxOf).reduce((a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]),
      Math.max(a[2], b[2]), Math.max(a[3], b[3])], [Infinity, Infinity, -Infinity, -Infinity]);
  }

  /** The codes of the districts that touch the view; [null] (no filter) when there are none. */
  function districtsInView() {
    const view = map.getBounds();
    const districts = [...loaded.DISTRICT.values()];
    if (!districts.length) return [null];
    return districts.filter((d) => {
      const [w, s, e, n] = bboxOf(d);
      return w <= view.getEast() && e >= view.getWest() && s <= view.getNorth() && n >= view.getSouth();
    }).map((d) => d.properties.code);
  }

  /** Fetches what the switched-on levels need for the current view. */
  async function refresh() {
    const zoom = map.getZoom();
    const jobs = [];
    for (const l of LEVELS) {
      if (!l.on || zoom < l.minzoom) continue;
      for (const within of l.whole ? [null] : districtsInView()) jobs.push(loadUnits(l.level, within));
    }
    updateNotes();
    if (!jobs.length) return;
    setStatus('Loading…');
    const failures = (await Promise.allSettled(jobs)).filter((r) => r.status === 'rejected');
    updateNotes();
    setStatus(failures.length
      ? `Could not load ${failures.map((f) => f.reason.message).join('; ')}`
      : `Grid system ${system}, the default.`);
  }

  /** Resolves once every fetch under way has finished and the map has drawn the result. */
  async function settled() {
    while (pending.size) await Promise.allSettled([...pending]);
    await new Promise((resolve) => {
      map.once('idle', resolve);
      map.triggerRepaint();
    });
  }

  async function defaultSystem() {
    for (;;) {
      const response = await fetch('/healthz');
      if (response.ok) return (await response.json()).defaultSystem;
      setStatus('The server is still loading its index…');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }

  /** The extent of the default system's grids, from the OGC API collection; null if unknown. */
  async function gridExtent() {
    try {
      const response = await api(`/ogc/collections/grid-${system}`);
      if (!response.ok) return null;
      const collection = await response.json();
      const box = collection.extent.spatial.bbox[0];
      return box.every(Number.isFinite) && box[0] < box[2] ? box : null;
    } catch (_) {
      return null;
    }
  }

  // ---- the rebalance plan preview ----------------------------------------------------------

  async function loadPlan() {
    const section = document.getElementById('plan');
    const message = document.getElementById('plan-message');
    document.getElementById('plan-id').textContent = `#${planId}`;
    section.hidden = false;
    let collection;
    try {
      const response = await api(`/geojson/plans/${encodeURIComponent(planId)}`);
      if (!response.ok) throw new Error(await failure(response));
      collection = await response.json();
      if (!Array.isArray(collection.features)) throw new Error('the answer is not a FeatureCollection');
    } catch (error) {
      message.textContent = `Could not load rebalance plan ${planId}: ${error.message}. The map shows the current grids only.`;
      message.hidden = false;
      document.getElementById('plan-summary').textContent = 'Not available.';
      mapEl.dataset.plan = 'failed';
      return null;
    }
    const counts = { kept: 0, changed: 0, new: 0 };
    let infeasible = 0;
    for (const feature of collection.features) {
      const p = feature.properties;
      p.status = String(p.status || '').toLowerCase();
      p.isInfeasible = Boolean(p.infeasible);
      counts[p.status] = (counts[p.status] || 0) + 1;
      if (p.isInfeasible) infeasible += 1;
      // the old units of the plan's levels are what it is compared against
      const l = BY_LEVEL[p.level] || BY_LEVEL.GRID;
      if (!l.on) {
        setVisible(l, true);
        document.querySelector(`#layers input[name="${l.level}"]`).checked = true;
      }
    }
    map.getSource('plan').setData(collection);
    document.getElementById('plan-summary').textContent =
      `${collection.features.length} proposed grids: ${counts.kept} kept, ${counts.changed} changed, ` +
      `${counts.new} new; ${infeasible} infeasible. Old grids are filled by load, proposed ones outlined.`;
    const legend = document.getElementById('plan-legend');
    for (const s of PLAN_STATUS) {
      const item = document.createElement('li');
      item.innerHTML = `<span class="swatch line${s.dash ? ' dashed' : ''}" style="border-color:${s.colour}"></span> proposed, ${s.text}`;
      legend.appendChild(item);
    }
    const item = document.createElement('li');
    item.innerHTML = '<span class="swatch line" style="border-color:#d11;opacity:.5;border-top-width:6px"></span> infeasible (see the plan’s reasons)';
    legend.appendChild(item);
    mapEl.dataset.plan = 'loaded';
    return collection.features.length ? union(collection.features) : null;
  }

  // ---- clicks: the chain of units holding a point ------------------------------------------

  const LOCATE = `query($lon: Float!, $lat: Float!, $system: ID) {
    locate(lon: $lon, lat: $lat, system: $system) { code name level householdCount personCount } }`;

  async function locate(lon, lat) {
    const response = await api('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: LOCATE, variables: { lon, lat, system } }),
    });
    if (!response.ok) throw new Error(await failure(response));
    const body = await response.json();
    if (body.errors) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.data.locate;
  }

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function showChain(chain) {
    const table = document.getElementById('chain');
    const hint = document.getElementById('chain-hint');
    const body = table.querySelector('tbody');
    body.replaceChildren();
    if (!chain.length) {
      hint.textContent = 'No unit holds this point.';
      table.hidden = true;
      return;
    }
    hint.textContent = 'The units holding this point, deepest first:';
    for (const unit of chain) {
      const row = document.createElement('tr');
      row.dataset.level = unit.level;
      const l = BY_LEVEL[unit.level];
      const name = cell(unit.name);
      const code = document.createElement('span');
      code.className = 'code';
      code.textContent = unit.code;
      name.appendChild(code);
      row.append(cell(l ? l.label : unit.level, 'level'), name,
        cell(String(unit.householdCount), 'num'), cell(String(unit.personCount), 'num'));
      body.appendChild(row);
    }
    table.hidden = false;
  }

  function showProposed(feature) {
    const box = document.getElementById('proposed');
    if (!feature) {
      box.hidden = true;
      return;
    }
    const p = feature.properties;
    const pp = typeof p.polsbyPopper === 'number' ? p.polsbyPopper.toFixed(2) : '–';
    box.textContent = `Proposed grid ${p.code} (${p.status}) in community ${p.communityCode}: ` +
      `${p.households} households, ${p.persons} persons, compactness ${pp}` +
      (p.isInfeasible ? `; infeasible: ${p.infeasible}` : '');
    box.hidden = false;
  }

  /** Outlines the deepest unit of the chain that is drawn on a switched-on layer. */
  function select(chain) {
    const unit = chain.find((u) => BY_LEVEL[u.level] && BY_LEVEL[u.level].on && loaded[u.level].has(u.code));
    const features = unit ? [loaded[unit.level].get(unit.code)] : [];
    map.getSource('selection').setData({ type: 'FeatureCollection', features });
  }

  map.on('click', async (event) => {
    const click = ++clicks;
    const proposed = planId ? map.queryRenderedFeatures(event.point, { layers: ['plan-hit'] })[0] : null;
    showProposed(proposed);
    try {
      const chain = await locate(event.lngLat.lng, event.lngLat.lat);
      if (click !== clicks) return; // a later click has its own answer
      showChain(chain);
      select(chain);
    } catch (error) {
      if (click === clicks) setStatus(`Could not locate the point: ${error.message}`);
    }
  });

  // ---- start -------------------------------------------------------------------------------

  buildPanel();
  map.on('load', async () => {
    addLayers();
    try {
      system = await defaultSystem();
      await Promise.all([loadUnits('CITY'), loadUnits('DISTRICT')]);
      const extent = (planId && (await loadPlan())) || (await gridExtent()) ||
        (loaded.DISTRICT.size ? union([...loaded.DISTRICT.values()]) : null);
      if (extent) map.fitBounds(extent, { padding: 20, duration: 0 });
      await refresh();
      map.on('moveend', refresh);
      await settled();
      mapEl.dataset.ready = 'true';
    } catch (error) {
      setStatus(`Could not start the map: ${error.message}`);
    }
  });
})();
