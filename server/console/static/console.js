// recalld console: what must be live. Every page works without this file; with it, a chat
// turn streams in from the REST API and a job's events arrive as they happen. The API is
// called with the console's cookie and the page's CSRF token, as the server requires.
"use strict";
(() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const TERMINAL = ["succeeded", "failed", "cancelled"];

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Server-Sent Events from a fetch response (EventSource cannot POST).
  async function readEvents(response, onEvent) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let kind = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) kind = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length) onEvent(kind, JSON.parse(data.join("\n")));
      }
    }
  }

  function toolDetails(summary, body) {
    const details = el("details", "tool");
    details.append(el("summary", "", summary), el("pre", "", body));
    return details;
  }

  function messageItem(role, text) {
    const item = el("li", `msg msg-${role}`);
    if (text) item.append(el("div", "text", text));
    item.append(el("span", "muted when", role));
    return item;
  }

  // Bring the panels a turn may change (context, core memory, facts) up to date, keeping any
  // block the user is editing as it is.
  async function refreshPanels() {
    const response = await fetch(location.pathname, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    for (const id of ["context", "facts"]) {
      const now = document.getElementById(id), next = fresh.getElementById(id);
      if (now && next) now.replaceWith(next);
    }
    for (const next of fresh.querySelectorAll("form.block")) {
      const now = document.getElementById(next.id);
      const area = now && now.querySelector("textarea");
      if (area && area.value === area.defaultValue && document.activeElement !== area) {
        now.replaceWith(next);
      }
    }
  }

  const chat = document.getElementById("chat-form");
  if (chat) {
    const list = document.getElementById("messages");
    const input = chat.querySelector("textarea");
    const button = chat.querySelector("button");
    const problem = document.getElementById("chat-error");
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        chat.requestSubmit();
      }
    });
    chat.addEventListener("submit", async (event) => {
      event.preventDefault();
      const content = input.value.trim();
      if (!content) return;
      button.disabled = true;
      problem.hidden = true;
      let live = null; // the assistant message being streamed: {step, item, text}
      let last = null; // the last assistant item, where tool calls go
      const handle = (kind, data) => {
        if (kind === "user_message") {
          list.append(messageItem("user", data.content));
        } else if (kind === "assistant_delta") {
          if (!live || live.step !== data.step) {
            const item = messageItem("assistant", "");
            const text = el("div", "text streaming", "");
            item.prepend(text);
            list.append(item);
            live = { step: data.step, item, text };
          }
          live.text.textContent += data.text;
          // How many pieces the reply came in: more than one is a reply streamed in.
          live.item.dataset.pieces = String(Number(live.item.dataset.pieces || 0) + 1);
        } else if (kind === "delta_reset") {
          if (live && live.step === data.step) live.text.textContent = "";
        } else if (kind === "assistant_message") {
          if (live) {
            live.text.textContent = data.content;
            live.text.classList.remove("streaming");
            last = live.item;
            live = null;
          } else {
            last = messageItem("assistant", data.content);
            list.append(last);
          }
        } else if (kind === "tool_call") {
          if (live) { last = live.item; live = null; }
          if (!last) { last = messageItem("assistant", ""); list.append(last); }
          last.insertBefore(toolDetails(`⚙ ${data.name}`, data.arguments), last.lastChild);
        } else if (kind === "tool_result") {
          const item = el("li", "msg msg-tool");
          item.append(toolDetails(`↳ ${data.name || "tool"} answered`, data.content));
          list.append(item);
          last = null;
        } else if (kind === "error") {
          throw new Error(data.error ? data.error.message : "the turn failed");
        }
        list.lastElementChild && list.lastElementChild.scrollIntoView({ block: "nearest" });
      };
      try {
        const agent = chat.dataset.agent;
        const response = await fetch(`/v1/agents/${agent}/messages/stream`, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify({ messages: [{ role: "user", content }], tokens: true }),
        });
        if (!response.ok) {
          const body = await response.json().catch(() => null);
          throw new Error(body && body.error ? body.error.message : response.statusText);
        }
        input.value = "";
        await readEvents(response, handle);
        await refreshPanels();
      } catch (error) {
        problem.textContent = error.message;
        problem.hidden = false;
      } finally {
        button.disabled = false;
        input.focus();
      }
    });
  }

  // A job's page follows its events: each one re-reads the page (one rendering, the
  // server's) and swaps the job in, until the job has ended.
  const job = document.getElementById("job");
  if (job && !TERMINAL.includes(job.dataset.status)) {
    const source = new EventSource(`/v1/jobs/${job.dataset.job}/events?after=${job.dataset.after}`);
    let pending = null;
    const refresh = async () => {
      pending = null;
      const response = await fetch(location.pathname, { credentials: "same-origin" });
      if (!response.ok) return;
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const next = fresh.getElementById("job");
      if (!next) return;
      document.getElementById("job").replaceWith(next);
      if (TERMINAL.includes(next.dataset.status)) source.close();
    };
    const kinds = ["status", "step", "progress", "cancel_requested", "scheduled", "schedule_stopped"];
    for (const kind of kinds) {
      source.addEventListener(kind, () => { pending = pending || setTimeout(refresh, 100); });
    }
  }
})();
