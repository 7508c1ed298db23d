package org.leanseg.train;

import java.util.List;

/** The per-class IoU / accuracy table printed after each evaluation (mmsegmentation's layout). */
public final class IouTable {
    private IouTable() {
    }

    public static String format(List<String> names, double[] iou, double[] acc, double mIoU, double aAcc, double mAcc) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format("+%s+%s+%s+%n", "-".repeat(16), "-".repeat(8), "-".repeat(8)));
        sb.append(String.format("| %-14s | %6s | %6s |%n", "class", "IoU %", "Acc %"));
        sb.append(String.format("+%s+%s+%s+%n", "-".repeat(16), "-".repeat(8), "-".repeat(8)));
        for (int c = 0; c < iou.length; c++) {
            String name = c < names.size() ? names.get(c) : "class " + c;
            sb.append(String.format("| %-14s | %6s | %6s |%n", name, pct(iou[c]), pct(acc[c])));
        }
        sb.append(String.format("+%s+%s+%s+%n", "-".repeat(16), "-".repeat(8), "-".repeat(8)));
        sb.append(String.format("mIoU %s  aAcc %s  mAcc %s", pct(mIoU), pct(aAcc), pct(mAcc)));
        return sb.toString();
    }

    public static String pct(double v) {
        return Double.isNaN(v) ? "nan" : String.format("%.2f", 100 * v);
    }
}
