package example;

import java.awt.GraphicsEnvironment;
import java.beans.PropertyChangeEvent;
import java.beans.PropertyChangeSupport;
import java.net.InetAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;

/**
 * Uses the H2 database over JDBC (an in-memory database), java.beans (module java.desktop) and
 * InetAddress.getLocalHost(), then prints one line: H2-OK host=... rows=... headless=...
 */
public final class H2Demo {
    private H2Demo() {}

    public static void main(String[] args) throws Exception {
        InetAddress local = InetAddress.getLocalHost();
        int[] changes = {0};
        PropertyChangeSupport beans = new PropertyChangeSupport(new Object());
        beans.addPropertyChangeListener((PropertyChangeEvent e) -> changes[0]++);
        int rows = 0;
        String version;
        try (Connection db = DriverManager.getConnection("jdbc:h2:mem:demo", "sa", "")) {
            try (Statement st = db.createStatement()) {
                st.execute("CREATE TABLE greeting(id INT PRIMARY KEY, text VARCHAR(64))");
            }
            try (PreparedStatement insert = db.prepareStatement("INSERT INTO greeting VALUES (?, ?)")) {
                for (int i = 1; i <= 3; i++) {
                    insert.setInt(1, i);
                    insert.setString(2, "hello " + i);
                    insert.executeUpdate();
                    beans.firePropertyChange("rows", i - 1, i);
                }
            }
            try (Statement st = db.createStatement();
                    ResultSet rs = st.executeQuery("SELECT COUNT(*), H2VERSION() FROM greeting")) {
                rs.next();
                rows = rs.getInt(1);
                version = rs.getString(2);
            }
        }
        System.out.println(
                "H2-OK host=" + local.getHostName() + " address=" + local.getHostAddress()
                        + " rows=" + rows + " h2=" + version + " beans=" + changes[0]
                        + " headless=" + GraphicsEnvironment.isHeadless());
    }
}
