import { mount } from "svelte";
import App from "./App.svelte";
import Popup from "./Popup.svelte";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("index.html has no #app element");

// The incoming-call popup is the same page, opened by the shell at #popup?call=…
export default location.hash.startsWith("#popup") ? mount(Popup, { target }) : mount(App, { target });
