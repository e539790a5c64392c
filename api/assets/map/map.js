// GridMap's built-in web map (GET /map, served by api/src/webmap.rs).
//
// Draws the units of the default grid system from its vector tiles (/tiles/<system>.json, one
// layer per level, each from the zoom its TileJSON entry names) over a blank background, with a
// switch per level. Grids and micro-grids are coloured by the tiles' household `load`. A click
// asks GraphQL `locate` for the chain of units holding the point. With ?plan=<id>, the proposed
// grids of /geojson/plans/<id> are drawn as outlines over the old ones.
// Where anonymous clients may not read, open /map#token=<token>: every request then carries it
// as a bearer token (a fragment never reaches the server's logs).
//
// For tests: window.gridmap = { map, levels, settled() }, and #map carries data-ready once the
// first view is drawn, and data-plan ("loaded" or "failed").
'use strict';

(function () {
  // `layer` is the tiles' layer name; `minzoom` is replaced by the TileJSON's.
  const LEVELS = [
    { level: 'CITY', layer: 'city', label: 'City 市', minzoom: 0, on: true, line: '#222', width: 2.5 },
    { level: 'DISTRICT', layer: 'district', label: 'District 区', minzoom: 8, on: true, line: '#444', width: 1.8 },
    { level: 'STREET', layer: 'street', label: 'Street 街道', minzoom: 10, on: false, line: '#2b6cb0', width: 1.6 },
    { level: 'COMMUNITY', layer: 'community', label: 'Community 社区', minzoom: 11, on: false, line: '#6b46c1', width: 1.2 },
    { level: 'GRID', layer: 'grid', label: 'Grid 网格', minzoom: 12, on: true, load: [300, 500], line: '#555', width: 0.8 },
    { level: 'MICRO_GRID', layer: 'micro_grid', label: 'Micro-grid 微网格', minzoom: 14, on: false, load: [30, 100], line: '#777', width: 0.5 },
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
    attributionControl: { compact: true },
    // tiles carry the token too (the page's own requests go through api())
    transformRequest: (url) => (token && url.startsWith(location.origin)
      ? { url, headers: { authorization: `Bearer ${token}` } } : { url }),
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
  map.addControl(new maplibregl.ScaleControl(), 'bottom-left');
  window.gridmap = { map, levels: LEVELS, settled };

  // ---- layers ------------------------------------------------------------------------------

  const LOAD_COLOUR = ['match', ['get', 'load'], 'under', LOAD[0].colour, 'over', LOAD[2].colour, LOAD[1].colour];
  const NOTHING = ['==', ['get', 'code'], ''];

  /** The units' vector tiles, from the TileJSON (fetched here, so that it can carry a token). */
  async function addTiles() {
    const response = await api(`/tiles/${encodeURIComponent(system)}.json`);
    if (!response.ok) throw new Error(`the tiles: ${await failure(response)}`);
    const tilejson = await response.json();
    for (const layer of tilejson.vector_layers || []) {
      const l = LEVELS.find((l) => l.layer === layer.id);
      if (l && Number.isFinite(layer.minzoom)) l.minzoom = layer.minzoom;
    }
    const { tiles, minzoom, maxzoom, bounds, attribution } = tilejson;
    map.addSource('units', { type: 'vector', tiles, minzoom, maxzoom, bounds, attribution });
    return tilejson;
  }

  function addLayers() {
    const empty = { type: 'FeatureCollection', features: [] };
    const unitLayer = (l, id, type, paint) => map.addLayer({ id, type, source: 'units', 'source-layer': l.layer,
      minzoom: l.minzoom, paint });
    for (const l of LEVELS.filter((l) => l.load)) {
      unitLayer(l, `${l.level}-fill`, 'fill', { 'fill-color': LOAD_COLOUR, 'fill-opacity': planId ? 0.45 : 0.7 });
    }
    for (const l of [...LEVELS].reverse()) {
      unitLayer(l, `${l.level}-line`, 'line', { 'line-color': l.line, 'line-width': l.width });
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
    for (const l of LEVELS) {
      map.addLayer({ id: `${l.level}-selected`, type: 'line', source: 'units', 'source-layer': l.layer,
        minzoom: l.minzoom, filter: NOTHING, paint: { 'line-color': '#111', 'line-width': 3.5 } });
    }
    for (const l of LEVELS) setVisible(l, l.on);
  }

  function layerIds(l) {
    return [`${l.level}-fill`, `${l.level}-line`, `${l.level}-selected`].filter((id) => map.getLayer(id));
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
        updateNotes();
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
      l.note.textContent = l.on && zoom < l.minzoom ? `(from zoom ${l.minzoom}; now ${zoom.toFixed(1)})` : '';
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

  /** Resolves once the map has loaded and drawn what the view needs. */
  async function settled() {
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
    const zoom = map.getZoom();
    const unit = chain.find((u) => BY_LEVEL[u.level] && BY_LEVEL[u.level].on && zoom >= BY_LEVEL[u.level].minzoom);
    for (const l of LEVELS) {
      map.setFilter(`${l.level}-selected`, unit && unit.level === l.level ? ['==', ['get', 'code'], unit.code] : NOTHING);
    }
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

  // ---- live updates ------------------------------------------------------------------------

  /**
   * Reloads the tiles when the grid system changes (a plan applied, an import, a rollback),
   * from the `gridSystemChanged` subscription (graphql-transport-ws on /graphql); reopens the
   * page when another system becomes the default (a merge applied).
   */
  function watchChanges(tiles) {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/graphql`, 'graphql-transport-ws');
    const query = 'subscription { gridSystemChanged { id version isDefault } }';
    socket.onopen = () => socket.send(JSON.stringify({
      type: 'connection_init', payload: token ? { Authorization: `Bearer ${token}` } : {},
    }));
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: 'changes', type: 'subscribe', payload: { query } }));
        return;
      }
      const changed = message.type === 'next' && message.payload?.data?.gridSystemChanged;
      if (!changed) return;
      if (changed.id !== system && changed.isDefault) {
        location.reload();
      } else if (changed.id === system) {
        // a new query string per version: the browser and MapLibre fetch every tile again
        map.getSource('units').setTiles(tiles.map((t) => `${t}${t.includes('?') ? '&' : '?'}v=${changed.version}`));
        mapEl.dataset.version = String(changed.version);
        setStatus(`Grid system ${system} is at version ${changed.version} now; tiles reloaded.`);
      }
    };
    socket.onclose = () => setTimeout(() => watchChanges(tiles), 5000);
  }

  // ---- start -------------------------------------------------------------------------------

  buildPanel();
  map.on('load', async () => {
    try {
      system = await defaultSystem();
      const tilejson = await addTiles();
      addLayers();
      const extent = (planId && (await loadPlan())) || (await gridExtent()) || tilejson.bounds;
      if (extent) map.fitBounds(extent, { padding: 20, duration: 0 });
      // grids are only in the tiles from their zoom on: start where they show
      if (map.getZoom() < BY_LEVEL.GRID.minzoom) map.setZoom(BY_LEVEL.GRID.minzoom);
      map.on('zoomend', updateNotes);
      updateNotes();
      setStatus(`Grid system ${system}, the default.`);
      watchChanges(tilejson.tiles);
      await settled();
      mapEl.dataset.ready = 'true';
    } catch (error) {
      setStatus(`Could not start the map: ${error.message}`);
    }
  });
})();
