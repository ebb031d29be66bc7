// The supervisor page: the live board (server-sent events from /api/live), the recordings
// search (/api/recordings, media from /api/recordings/ID/media) and the system status
// (/api/status). Plain DOM, no framework; every request goes to callvault itself.
'use strict';

const STATE_NAMES = { '0': 'On hook', '1': 'Off hook', '2': 'Recording' };
const DOWNLOADS = [['MP3', 'mp3'], ['WEBM', 'webm'], ['GSMWAV', 'gsmwav'], ['WAV', 'wav']];

function cell(tr, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  tr.appendChild(td);
  return td;
}

// A table row headed by `id`, which its `data-<key>` holds too.
function headedRow(key, id) {
  const tr = document.createElement('tr');
  tr.dataset[key] = id;
  const th = document.createElement('th');
  th.scope = 'row';
  th.textContent = id;
  tr.appendChild(th);
  return tr;
}

function clock(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n) => String(n).padStart(2, '0');
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}

function count(n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

function yesNo(v) {
  return v === 'Y' ? 'Yes' : 'No';
}

// ---- Live board ----

const board = document.querySelector('#devices tbody');
const changes = document.getElementById('changes');
const liveState = document.getElementById('live-state');
// DEVICEID → { row, since, base, live }: `base` seconds at `since` (ms), ticking while live.
const rows = new Map();

function callSeconds(entry) {
  return entry.live ? entry.base + (Date.now() - entry.since) / 1000 : entry.base;
}

function showDevice(d, announce) {
  const entry = rows.get(d.DEVICEID);
  const tr = headedRow('device', d.DEVICEID);
  cell(tr, STATE_NAMES[d.STATE] || d.STATEDESC);
  cell(tr, d.AGENTNAME || d.AGENTID);
  cell(tr, d.ANI);
  cell(tr, d.DNIS);
  const time = cell(tr, '', 'num call-time');
  cell(tr, yesNo(d.RECORDING));
  cell(tr, yesNo(d.BLACKOUT));
  if (d.STATE === '2') tr.classList.add('recording');
  const next = {
    row: tr,
    time,
    since: Date.now(),
    base: d.CALLSECONDS === '' ? null : Number(d.CALLSECONDS),
    live: d.CALLLIVE === 'Y',
  };
  time.textContent = next.base === null ? '' : clock(callSeconds(next));
  if (entry) {
    board.replaceChild(tr, entry.row);
  } else {
    // Rows stay in device order, as DEVICELIST lists them.
    const after = [...rows.keys()].filter((id) => id > d.DEVICEID).sort()[0];
    board.insertBefore(tr, after ? rows.get(after).row : null);
  }
  rows.set(d.DEVICEID, next);
  if (!entry) showCount();
  if (announce) {
    tr.classList.add('changed');
    const agent = d.AGENTNAME ? `, agent ${d.AGENTNAME}` : '';
    changes.textContent = `Device ${d.DEVICEID}: ${STATE_NAMES[d.STATE] || d.STATEDESC}${agent}`;
  }
}

function showBoard(snapshot) {
  board.replaceChildren();
  rows.clear();
  for (const d of snapshot.DEVICE || []) showDevice(d, false);
  showCount();
}

function showCount() {
  liveState.textContent = `${count(rows.size, 'device')}; updates arrive as they happen.`;
}

function connectBoard() {
  const source = new EventSource('/api/live');
  source.addEventListener('snapshot', (e) => showBoard(JSON.parse(e.data)));
  source.addEventListener('device', (e) => showDevice(JSON.parse(e.data), true));
  // EventSource reconnects by itself and is then sent a fresh snapshot.
  source.onerror = () => { liveState.textContent = 'Connection lost; reconnecting…'; };
}

setInterval(() => {
  for (const entry of rows.values()) {
    if (entry.live && entry.base !== null) entry.time.textContent = clock(callSeconds(entry));
  }
}, 1000);

// ---- Recordings search ----

const form = document.getElementById('search-form');
const results = document.querySelector('#results tbody');
const searchMessage = document.getElementById('search-message');

const userField = document.getElementById('user-field');
for (let n = 1; n <= 15; n++) {
  const option = document.createElement('option');
  option.value = option.textContent = `USER${n}`;
  userField.appendChild(option);
}

function mediaUrl(recordId, format) {
  return `/api/recordings/${encodeURIComponent(recordId)}/media?format=${format}`;
}

function searchQuery() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (value.trim() === '' || name === 'user-field' || name === 'user-value') continue;
    params.append(name, value.trim());
  }
  const userValue = document.getElementById('user-value').value.trim();
  if (userValue !== '') params.append(userField.value, userValue);
  return params;
}

function play(button, recordId) {
  const audio = document.createElement('audio');
  audio.controls = true;
  audio.src = mediaUrl(recordId, 'wav');
  audio.setAttribute('aria-label', `Recording ${recordId}`);
  button.replaceWith(audio);
  audio.focus();
  audio.play().catch(() => {});
}

function showResults(calls) {
  results.replaceChildren();
  for (const c of calls) {
    const tr = headedRow('record', c.RECORDID);
    cell(tr, c.CALLSTARTTIME);
    cell(tr, c.DEVICEID);
    cell(tr, c.AGENTNAME || c.AGENTID);
    cell(tr, c.ANI);
    cell(tr, c.DNIS);
    cell(tr, { I: 'Inbound', O: 'Outbound' }[c.CALLDIRECTION] || '');
    cell(tr, c.DURATION ? clock(Number(c.DURATION)) : '', 'num');
    const listen = cell(tr, '');
    const downloads = cell(tr, '', 'downloads');
    if (c.AUDIO === 'Y' && c.RECORDING !== 'Y' && !c.PURGEDTIME) {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Play';
      button.setAttribute('aria-label', `Play recording ${c.RECORDID}`);
      button.addEventListener('click', () => play(button, c.RECORDID));
      listen.appendChild(button);
      for (const [label, format] of DOWNLOADS) {
        const a = document.createElement('a');
        a.href = mediaUrl(c.RECORDID, format);
        a.download = '';
        a.textContent = label;
        a.setAttribute('aria-label', `Download recording ${c.RECORDID} as ${label}`);
        downloads.appendChild(a);
      }
    } else {
      listen.textContent = c.PURGEDTIME
        ? `Purged ${c.PURGEDTIME}`
        : c.RECORDING === 'Y' ? 'Being recorded' : 'No audio';
    }
    results.appendChild(tr);
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  searchMessage.className = '';
  searchMessage.textContent = 'Searching…';
  try {
    const response = await fetch(`/api/recordings?${searchQuery()}`);
    const body = await response.json();
    if (!response.ok) {
      results.replaceChildren();
      searchMessage.className = 'error';
      searchMessage.textContent = body.RESULTMSG;
      return;
    }
    const calls = body.CALL || [];
    showResults(calls);
    searchMessage.textContent = `${count(calls.length, 'recording')} found.`;
  } catch (err) {
    searchMessage.className = 'error';
    searchMessage.textContent = `The search failed: ${err.message}`;
  }
});

// ---- System status ----

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`;
}

async function refreshStatus() {
  try {
    const response = await fetch('/api/status');
    const s = (await response.json()).SYSTEM[0];
    const facts = [
      ['Version', s.VERSION],
      ['Started', s.STARTTIME],
      ['Database', s.DATABASE],
      ['Recording path', s.RECORDINGPATH],
      ['Disk free', `${bytes(s.DISKFREE)} of ${bytes(s.DISKTOTAL)} (${s.DISKFREEPERCENT}%)`],
      ['Channels in use', `${s.CHANNELSINUSE} of ${s.CHANNELS}`],
      ['Active calls', s.ACTIVECALLS],
      ['Active recordings', s.ACTIVERECORDINGS],
    ];
    const dl = document.getElementById('system');
    dl.replaceChildren();
    for (const [name, value] of facts) {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = value;
      dl.append(dt, dd);
    }
    const captures = document.querySelector('#captures tbody');
    captures.replaceChildren();
    for (const source of (s.CAPTURE[0] || {}).SOURCE || []) {
      const tr = document.createElement('tr');
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = source.NAME;
      tr.appendChild(th);
      cell(tr, source.STATE);
      cell(tr, source.PACKETS, 'num');
      cell(tr, source.SIPMESSAGES, 'num');
      cell(tr, source.RTPPACKETS, 'num');
      cell(tr, source.CALLS, 'num');
      cell(tr, source.MESSAGE);
      captures.appendChild(tr);
    }
  } catch (err) {
    document.getElementById('system').textContent = `Status unavailable: ${err.message}`;
  }
}

connectBoard();
refreshStatus();
setInterval(refreshStatus, 5000);
