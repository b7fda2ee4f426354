// The Print button next to fresh backup codes (the print stylesheet shows only the codes).
document.getElementById("print")?.addEventListener("click", () => window.print());
